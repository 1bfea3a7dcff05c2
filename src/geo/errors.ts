import { SubnetBootnodeError } from '../errors.js'

/**
 * A geolocation database that cannot be used: a `--geo-db`/`--asn-db` path that is missing,
 * unreadable or not a MaxMind DB file, or bundled data that is not installed. The message is one
 * line naming the file and what to do.
 */
export class GeoDatabaseError extends SubnetBootnodeError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_GEO_DATABASE', options)
  }
}
