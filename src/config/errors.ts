/**
 * A problem that stops start-up and that the operator must fix (a setting, an address in use, a
 * database that refuses): its message is one line naming the key, value or address at fault.
 * The CLI prints it without a stack and exits 2.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StartupError'
  }
}

/** A configuration problem: its message is one line naming the key and what is wrong. */
export class ConfigError extends StartupError {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
