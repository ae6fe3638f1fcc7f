// pipe_transport.ini as the plugin and the try command load it: the file's bytes as haraka-config
// read them (and watches them), read as an ini (ini-text.ts) and checked (settings.ts), into
// settings or errors, each a line ready to log with file, section and key.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { iniFromText, type IniGrammar } from './ini-text.js'
import { formatConfigError, readSettings, type ConfigError, type ReadContext, type Settings } from './settings.js'

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

/** `bytes` is the file as haraka-config's binary reader gave it: null when it has none. */
export function checkConfigFile(file: string, bytes: Buffer | null, grammar: IniGrammar, context: ReadContext): LoadedConfig {
  const read = readSettings(iniFromText(file, bytes === null ? '' : bytes.toString('utf8'), grammar), context)
  const format = (problem: ConfigError): string => formatConfigError(file, problem)
  // haraka-config gives null for a file it cannot read as well as for a missing one.
  const unreadable = bytes === null && existsSync(file)
  const errors = [...(unreadable ? [`${file}: cannot be read by Haraka`] : []), ...('errors' in read ? read.errors.map(format) : [])]
  const warnings = [
    ...(bytes === null && !unreadable ? [`${file} is missing, so pipe_transport routes nothing; write it (see README, Configuration)`] : []),
    ...read.warnings.map(format),
  ]
  return { settings: errors.length === 0 && 'settings' in read ? read.settings : undefined, errors, warnings }
}
