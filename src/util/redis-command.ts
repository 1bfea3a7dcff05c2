/**
 * One Redis command with a bound that holds. node-redis's own `timeout` option covers only the
 * wait to be written: a written command whose reply never comes (a hung server, the connection
 * still up) stays pending for good. Past `ms` the promise here rejects; the command itself stays
 * in node-redis's queue, which `commandsQueueMaxLength` bounds (util/redis.ts).
 *
 * Its own module, importing only types: the key CLI loads the usage code and must not load redis.
 */
import { SubnetBootnodeError } from '../errors.js'
import { settleWithin } from './deadline.js'
import type { RedisClient } from './redis.js'

export async function sendCommandWithin<T> (client: RedisClient, args: string[], ms: number): Promise<T> {
  return await settleWithin(client.sendCommand(args, { timeout: ms }) as Promise<T>, ms, () => {
    throw new SubnetBootnodeError(`redis ${args[0] ?? ''}: no reply within ${ms} ms`, 'ERR_REDIS_TIMEOUT')
  })
}
