// The one error type every safetensors read/write failure is reported with.

/**
 * Raised for any malformed, truncated or hostile safetensors file, and for invalid arguments to the
 * safetensors functions. The message names the file (`source`) and, when one is involved, the tensor.
 */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    /** The file path, or `"<buffer>"` for in-memory bytes. */
    readonly source: string,
    message: string,
    /** The tensor the problem concerns, when there is one. */
    readonly tensor?: string,
  ) {
    super(`${source}: ${tensor !== undefined ? `tensor ${JSON.stringify(tensor)}: ` : ''}${message}`);
  }
}
