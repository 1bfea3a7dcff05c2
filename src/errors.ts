/**
 * Base of every typed error the project throws. `code` is stable (tests and the
 * express error handler match on it); `message` is one line a user can act on.
 */
export class SubnetBootnodeError extends Error {
  readonly code: string

  constructor (message: string, code: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** A bad flag, environment variable or config value: exit code 2 at start-up. */
export class ConfigError extends SubnetBootnodeError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_CONFIG', options)
  }
}
