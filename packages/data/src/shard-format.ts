// The token shard file: a 64-byte header, a document offset index, then the token ids (all little-endian).
//
//   offset  size  field
//   0       8     magic "STLRTOK\0"
//   8       4     version (1)
//   12      4     bytes per token: 2 (uint16) or 4 (uint32)
//   16      8     token count
//   24      8     document count D
//   32      4     vocabulary size (every id is below it)
//   36      4     CRC-32 of bytes 0..36
//   40      24    zero
//   64      4(D+1) uint32 document start offsets in tokens: 0, ..., token count
//   ...     n*w   tokens
import fs from 'node:fs';
import { crc32 } from './crc32';

export const SHARD_MAGIC = Buffer.from('STLRTOK\0', 'latin1');
export const SHARD_VERSION = 1;
export const HEADER_BYTES = 64;
/** Offsets are uint32, so one shard holds fewer tokens than this. */
export const MAX_SHARD_TOKENS = 0xffffffff;

export type TokenDtype = 'uint16' | 'uint32';

/** uint16 when every id fits (vocab <= 65536), else uint32. */
export function dtypeForVocab(vocabSize: number): TokenDtype {
  return vocabSize <= 65536 ? 'uint16' : 'uint32';
}

export const dtypeBytes = (d: TokenDtype): number => (d === 'uint16' ? 2 : 4);

export interface ShardHeader {
  version: number;
  dtype: TokenDtype;
  tokenCount: number;
  docCount: number;
  vocabSize: number;
}

export const shardFileBytes = (h: Pick<ShardHeader, 'dtype' | 'tokenCount' | 'docCount'>): number =>
  HEADER_BYTES + 4 * (h.docCount + 1) + dtypeBytes(h.dtype) * h.tokenCount;

export function encodeHeader(h: Omit<ShardHeader, 'version'>): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  SHARD_MAGIC.copy(b, 0);
  b.writeUInt32LE(SHARD_VERSION, 8);
  b.writeUInt32LE(dtypeBytes(h.dtype), 12);
  b.writeBigUInt64LE(BigInt(h.tokenCount), 16);
  b.writeBigUInt64LE(BigInt(h.docCount), 24);
  b.writeUInt32LE(h.vocabSize, 32);
  b.writeUInt32LE(crc32(b.subarray(0, 36)), 36);
  return b;
}

export class CorruptShardError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`token shard ${file}: ${problem}`);
    this.name = 'CorruptShardError';
  }
}

/** Parses and checks a header against the file's length; throws CorruptShardError naming what is wrong. */
export function decodeHeader(b: Buffer, file: string, fileBytes: number): ShardHeader {
  const bad = (p: string) => new CorruptShardError(file, p);
  if (fileBytes < HEADER_BYTES || b.length < HEADER_BYTES) throw bad(`file is ${fileBytes} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  if (!b.subarray(0, 8).equals(SHARD_MAGIC)) throw bad(`bad magic ${JSON.stringify(b.subarray(0, 8).toString('latin1'))} (not a Stellar token shard)`);
  const version = b.readUInt32LE(8);
  if (version !== SHARD_VERSION) throw bad(`unsupported version ${version} (this reader knows ${SHARD_VERSION})`);
  const sum = crc32(b.subarray(0, 36));
  if (sum !== b.readUInt32LE(36)) throw bad(`header checksum mismatch (stored ${b.readUInt32LE(36)}, computed ${sum})`);
  const width = b.readUInt32LE(12);
  if (width !== 2 && width !== 4) throw bad(`token width ${width} bytes is neither 2 nor 4`);
  const tokenCount = Number(b.readBigUInt64LE(16));
  const docCount = Number(b.readBigUInt64LE(24));
  const vocabSize = b.readUInt32LE(32);
  const h: ShardHeader = { version, dtype: width === 2 ? 'uint16' : 'uint32', tokenCount, docCount, vocabSize };
  const want = shardFileBytes(h);
  if (want !== fileBytes) throw bad(`header says ${tokenCount} tokens in ${docCount} documents (${want} bytes) but the file is ${fileBytes} bytes`);
  return h;
}

/** Writes one shard to `file` atomically (a temporary file renamed into place). */
export function writeShardFile(file: string, tokens: Uint16Array | Uint32Array, docStarts: Uint32Array, vocabSize: number): void {
  const dtype: TokenDtype = tokens instanceof Uint16Array ? 'uint16' : 'uint32';
  const docCount = docStarts.length - 1;
  if (docStarts[0] !== 0 || docStarts[docCount] !== tokens.length) throw new Error('writeShardFile: document offsets must run from 0 to the token count');
  const header = encodeHeader({ dtype, tokenCount: tokens.length, docCount, vocabSize });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    // Typed arrays are little-endian on every platform Node runs on (x64, arm64).
    for (const part of [header, docStarts, tokens]) {
      const bytes = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
