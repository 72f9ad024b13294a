// The one error type of @stellar/config: bad files, bad overrides, bad keys and values, each
// message naming the file/line or the dotted key and what is allowed.
export class ConfigError extends Error {
  constructor(msg: string) { super(msg); this.name = 'ConfigError'; }
}
