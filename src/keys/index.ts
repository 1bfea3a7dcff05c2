/**
 * The API-key store (SPEC §2): the file `bootnode_rest_keys.json`, its validation, its
 * locked atomic rewrites, the read-only key set the API authenticates against, and the
 * watcher that keeps that set in step with the file (SPEC §1).
 */
export { API_ROUTES, MAX_API_KEY_LENGTH, DEFAULT_KEYS_FILE_NAME, KEYS_FILE_ENV, LEGACY_KEYS_FILE_ENV, LOCK_STALE_MS } from './constants.js'
export { KeyFileError } from './errors.js'
export type { KeyFileErrorDetails } from './errors.js'
export { checkApiKeyText, checkOwnerName, generateApiKey } from './generate.js'
export { readKeyFile, updateKeyFile } from './file.js'
export { createKeySet, isKeyExpired, isKeyUsable, keyRefusal, EMPTY_KEY_SET } from './key-set.js'
export type { KeyRefusal, KeySet } from './key-set.js'
export { KeysFilePathError, resolveKeysFile } from './path.js'
export type { KeysFileLocation, KeysFileSource, ResolveKeysFileInit } from './path.js'
export { parseTimestamp } from './timestamp.js'
export type { ApiKeyEntry, ApiRoute } from './types.js'
export { parseKeyFileText } from './validate.js'
export { createKeyStoreWatcher } from './watcher.js'
export type { KeyStoreWatcher, KeyStoreWatcherInit } from './watcher.js'
