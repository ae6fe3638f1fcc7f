// pipe_transport.ini as the plugin and the try command load it: haraka-config's parse (which
// Haraka hands the plugin, and watches) checked together with the file's own text, into settings
// or errors, each a line ready to log with file, section and key.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { textProblems } from './ini-text.js'
import { formatConfigError, readSettings, type ConfigError, type RawIni, type ReadContext, type Settings } from './settings.js'

export const CONFIG_FILE = 'pipe_transport.ini'

export interface LoadedConfig {
  /** Undefined when there is any error: a config with errors is never used. */
  readonly settings: Settings | undefined
  readonly errors: readonly string[]
  readonly warnings: readonly string[]
}

/** Where Haraka reads the file: the install dir's config/ (a package plugin ships none of its own). */
export function configFileOf(installDir: string): string {
  return join(installDir, 'config', CONFIG_FILE)
}

/**
 * `user` and `group` need a Haraka that is root when it delivers: it drops to smtp.ini's `user`
 * once it listens, and programs are started after that.
 */
export function deliversAsRoot(smtpIni: unknown): boolean {
  return process.getuid?.() === 0 && !(smtpIni as { main?: { user?: unknown } } | undefined)?.main?.user
}

/**
 * `raw` is haraka-config's parse of `file`. The text is read again here, just after that parse;
 * should the file change in between, haraka-config's watcher reloads it once more.
 */
export function checkConfigFile(file: string, raw: RawIni, context: ReadContext): LoadedConfig {
  const text = readText(file)
  const read = readSettings(raw, context)
  const format = (problem: ConfigError): string => formatConfigError(file, problem)
  const errors = [
    ...('unreadable' in text ? [`${file}: cannot be read: ${text.unreadable}`] : []),
    ...('text' in text ? textProblems(text.text).map(format) : []),
    ...('errors' in read ? read.errors.map(format) : []),
  ]
  const warnings = [
    ...('missing' in text ? [`${file} is missing, so pipe_transport routes nothing; write it (see README, Configuration)`] : []),
    ...read.warnings.map(format),
  ]
  return { settings: errors.length === 0 && 'settings' in read ? read.settings : undefined, errors, warnings }
}

function readText(file: string): { text: string } | { missing: true } | { unreadable: string } {
  try {
    return { text: readFileSync(file, 'utf8') }
  } catch (err) {
    // haraka-config reads a missing file as empty, and one it cannot read as empty too.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true }
    return { unreadable: String(err) }
  }
}
