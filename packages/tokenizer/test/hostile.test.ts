// Malformed or hostile tokenizer.json inputs are refused with errors that say what is wrong.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromTokenizerJson, loadTokenizer, toTokenizerJson, Tokenizer } from '@stellar/tokenizer';
import { FIXTURES } from './util/fixtures';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;
const base = (): J => JSON.parse(fs.readFileSync(path.join(FIXTURES, 'hf-gpt2', 'tokenizer.json'), 'utf8'));

test('the unmodified fixture loads (so the failures below are due to the edits)', () => {
  expect(fromTokenizerJson(base()).encode('hello')).toEqual(expect.any(Array));
});

test.each<[string, (j: J) => unknown, RegExp]>([
  ['top level not an object', () => [1, 2], /top level must be an object/],
  ['missing model', (j) => { delete j.model; return j; }, /missing "model"/],
  ['other model type', (j) => { j.model.type = 'WordPiece'; return j; }, /model.type "WordPiece" is not supported/],
  ['unk_token set', (j) => { j.model.unk_token = '<unk>'; return j; }, /model.unk_token/],
  ['vocab not an object', (j) => { j.model.vocab = [1]; return j; }, /model.vocab must be an object/],
  ['negative id', (j) => { j.model.vocab.hello = -3; return j; }, /must be an integer/],
  ['fractional id', (j) => { j.model.vocab.hello = 1.5; return j; }, /must be an integer/],
  ['huge id', (j) => { j.model.vocab.hello = 2 ** 40; return j; }, /must be an integer/],
  ['string id', (j) => { j.model.vocab.hello = '7'; return j; }, /must be an integer/],
  ['duplicate id', (j) => { j.model.vocab.hello = j.model.vocab['Ġ']; return j; }, /is used by both/],
  ['missing byte token', (j) => { delete j.model.vocab['Ġ']; return j; }, /lacks the byte-level token for byte 32/],
  ['merges not an array', (j) => { j.model.merges = 'a b'; return j; }, /merges must be an array/],
  ['malformed merge', (j) => { j.model.merges.push('abc'); return j; }, /merge 240 must be/],
  ['merge of unknown tokens', (j) => { j.model.merges.push(['zzq', 'x']); return j; }, /refers to unknown token "zzq"/],
  ['merge whose result is unknown', (j) => { j.model.merges.push(['Q', 'Z']); return j; }, /refers to unknown token "QZ"/],
  ['unsupported normalizer', (j) => { j.normalizer = { type: 'Lowercase' }; return j; }, /normalizer .* is not supported/],
  ['unsupported pre-tokenizer', (j) => { j.pre_tokenizer = { type: 'Whitespace' }; return j; }, /pre_tokenizer .* is not supported/],
  ['added token without id', (j) => { j.added_tokens.push({ content: 'x' }); return j; }, /added_tokens\[4\]/],
  ['added token with lstrip', (j) => { j.added_tokens[0].lstrip = true; return j; }, /sets lstrip/],
  ['added token clashing with vocab id', (j) => { j.added_tokens.push({ id: 300, content: 'Ġ' }); return j; }, /has id 300 but the vocab gives it/],
])('%s', (_name, edit, message) => {
  expect(() => fromTokenizerJson(edit(base()))).toThrow(message);
});

describe('files', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-tok-bad-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('invalid JSON', () => {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
    expect(() => loadTokenizer(dir)).toThrow(/is not valid JSON/);
  });

  test('file over the size limit is refused before parsing', () => {
    fs.copyFileSync(path.join(FIXTURES, 'hf-gpt2', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    expect(() => loadTokenizer(dir, { maxFileBytes: 1000 })).toThrow(/over the 1000-byte limit/);
    expect(loadTokenizer(dir).vocabSize).toBe(500);
  });

  test('bos/eos token missing from the vocab', () => {
    fs.copyFileSync(path.join(FIXTURES, 'hf-gpt2', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '</s>' }));
    expect(() => loadTokenizer(dir)).toThrow(/bos\/eos\/pad token "<\/s>" is not in the vocabulary/);
  });
});

test('a token spelled __proto__ survives save and load as an ordinary entry', () => {
  const j = base();
  const vocab = new Map<string, number>(Object.entries(j.model.vocab as Record<string, number>));
  vocab.set('__proto__', 500);
  const tok = new Tokenizer({ vocab, merges: [] });
  const json: J = JSON.parse(JSON.stringify(toTokenizerJson(tok)));
  expect(Object.getPrototypeOf(json.model.vocab)).toBe(Object.prototype);
  expect(fromTokenizerJson(json).tokenToId('__proto__')).toBe(500);
});
