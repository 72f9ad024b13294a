// Worker entry for pretokenize(): rebuilds the tokenizer from its tokenizer.json and encodes the chunks it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { fromTokenizerJson } from '@stellar/tokenizer';
import { encodeChunk } from './encode-chunk';

const tok = fromTokenizerJson(workerData.tokenizerJson, workerData.tokenizerConfig);
const eosId = workerData.eosId as number;

parentPort!.on('message', (m: { seq: number; texts: string[] }) => {
  const { tokens, lengths } = encodeChunk(tok, m.texts, eosId);
  parentPort!.postMessage({ seq: m.seq, tokens, lengths }, [tokens.buffer as ArrayBuffer, lengths.buffer as ArrayBuffer]);
});
