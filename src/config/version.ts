/** The package's own version (`--version`, the default `--version-string`): one reader for the whole package. */
export { packageVersion } from '../util/package-version.js'
