// pipe_transport.ini as the plugin and the try command load it: the file's bytes as haraka-config
// read them (and watches them), read as an ini (ini-text.ts) and checked (settings.ts), into
// settings or errors, each a line ready to log with file, section and key.
import { existsSync } from 'node:fs'
import { messageOf } from '../util/error-message.js'
import { join } from 'node:path'
import { iniFromText, type IniGrammar } from './ini-text.js'
import { lookupUser } from './accounts.js'
import type { HarakaUser } from './identity.js'
import { iniText } from './ini-values.js'
import type { ReadContext } from './instance.js'
import { formatProblem, type ConfigProblem } from './problems.js'
import { secretReaderWarnings } from './secret-readers.js'
import { readSettings } from './settings.js'
import type { HarakaConfig } from '../types/haraka-types.js'
import type { Instance, Settings } from './vocabulary.js'

export const CONFIG_FILE = 'pipe_transport.ini'

/**
 * The environment variable that turns the journal off whatever `[main] journal` says: the try
 * command sets it for a live try (a try is not a retry), in the process that loads the plugin.
 */
export const JOURNAL_OVERRIDE = 'PIPE_TRANSPORT_JOURNAL'

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
 * Who Haraka is when it delivers: it drops to smtp.ini's `user` once it listens, and programs are
 * started after that. `user` and `group` need a Haraka that stays root.
 */
export function harakaUser(smtpIni: unknown): HarakaUser {
  const dropsTo = (smtpIni as { main?: { user?: unknown } } | undefined)?.main?.user
  const uid = process.getuid?.()
  const name = dropsTo ? iniText(dropsTo) : uid === undefined ? undefined : String(uid)
  return { root: uid === 0 && !dropsTo, account: name === undefined ? undefined : lookupUser(name) }
}

/** `bytes` is the file as haraka-config's binary reader gave it: null when it has none. */
export function checkConfigFile(
  file: string,
  bytes: Buffer | null,
  grammar: IniGrammar,
  context: ReadContext,
): LoadedConfig {
  const ini = iniFromText(file, bytes === null ? '' : bytes.toString('utf8'), grammar)
  const read = readSettings(ini, context)
  const format = (problem: ConfigProblem): string => formatProblem(file, problem)
  // haraka-config gives null for a file it cannot read as well as for a missing one.
  const unreadable = bytes === null && existsSync(file)
  const errors = [
    ...(unreadable ? [`${file}: cannot be read by Haraka`] : []),
    ...('errors' in read ? read.errors.map(format) : []),
  ]
  const routesNothing = bytes !== null && 'settings' in read && read.settings.instances.length === 0
  const warnings = [
    ...(bytes === null && !unreadable
      ? [`${file} is missing, so pipe_transport routes nothing; write it (see docs/configuration.md)`]
      : []),
    // An emptied file is a reload like any other, but most likely not what was meant.
    ...(routesNothing
      ? [`${file} holds no instance, so pipe_transport routes nothing; add one (see docs/configuration.md)`]
      : []),
    ...read.warnings.map(format),
    ...('settings' in read ? secretReaderWarnings(file, ini, read.settings.instances).map(format) : []),
  ]
  return { settings: errors.length === 0 && 'settings' in read ? read.settings : undefined, errors, warnings }
}

export interface PluginConfig {
  readonly file: string
  /** Undefined when there is any error: a config with errors is never used. */
  readonly settings: Settings | undefined
  readonly errorCount: number
  /** What to log about it, warnings first. */
  readonly log: readonly { readonly level: 'warn' | 'crit'; readonly message: string }[]
  /** `FILE in N ms: [rt] 2 addresses; [lists] lists.example.com`: for the loaded/reloaded line. */
  readonly summary: string
}

/** Why a changed file is not reloaded, to be logged at `level`; the last good config stays. */
export interface NotReloaded {
  readonly level: 'warn' | 'error'
  readonly message: string
}

/**
 * The plugin's load: the file as haraka-config reads it, watched. Not `get('x.ini')`: haraka-config
 * keeps what it parsed for ever and hands out a deep copy on each get(); for a table of 100,000
 * addresses that is about 22 MB held and 22 MB more copied at every load. `onChange` is called
 * after a change, with why the new file is not to be loaded (the old one stays) or undefined.
 */
export function loadConfigFile(
  installDir: string,
  config: HarakaConfig,
  grammar: IniGrammar,
  onChange: (notReloaded: NotReloaded | undefined) => void,
): PluginConfig {
  const began = Date.now()
  const file = configFileOf(installDir)
  const bytes = config.get(CONFIG_FILE, 'binary', (err?: unknown) => {
    if (err) {
      onChange({ level: 'error', message: `${file}: cannot be read, keeping the last good config: ${messageOf(err)}` })
    } else if (!existsSync(file)) {
      // haraka-config keeps the removed file's bytes and hands them out again: a reload would
      // say "reloaded" of a file that is gone. A removal is most likely a slip, or the first half
      // of a replacement; the routes stay as they were, and the file is read again once it is back.
      onChange({ level: 'warn', message: `${file} was removed; keeping the last good config` })
    } else {
      onChange(undefined)
    }
  })
  const checked = withJournalOverride(
    checkConfigFile(file, bytes, grammar, { installDir, haraka: harakaUser(config.get('smtp.ini')) }),
  )
  const routes = checked.settings
    ? checked.settings.instances.map((instance) =>
        describeRoutes(instance, checked.settings?.addressCounts.get(instance) ?? 0),
      )
    : []
  return {
    file,
    settings: checked.settings,
    errorCount: checked.errors.length,
    log: [
      ...checked.warnings.map((message) => ({ level: 'warn' as const, message })),
      ...checked.errors.map((message) => ({ level: 'crit' as const, message })),
    ],
    summary: `${file} in ${Date.now() - began} ms: ${routes.length ? routes.join('; ') : 'no instances, nothing is routed'}`,
  }
}

/** JOURNAL_OVERRIDE=off applied, with a warning that says so. */
function withJournalOverride(checked: LoadedConfig): LoadedConfig {
  const { settings } = checked
  if (process.env[JOURNAL_OVERRIDE] !== 'off' || settings === undefined || settings.journal.store === 'off')
    return checked
  return {
    ...checked,
    settings: { ...settings, journal: { ...settings.journal, store: 'off' } },
    warnings: [
      ...checked.warnings,
      `${JOURNAL_OVERRIDE}=off: the delivery journal is off, whatever [main] journal says`,
    ],
  }
}

/** `[rt] 2 addresses`, `[lists] lists.example.com 1 address`: what an instance routes, in brief. */
function describeRoutes(instance: Instance, addresses: number): string {
  const routes = [
    ...instance.domains,
    ...(addresses === 0 ? [] : [`${addresses} address${addresses === 1 ? '' : 'es'}`]),
  ]
  return `[${instance.name}] ${routes.join(' ')}`
}
