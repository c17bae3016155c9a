/** A configuration problem: its message is one line naming the key and what is wrong. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
