// The delivery journal's keys, all in [main]: which store, where a local one lives, how long it
// remembers, and what to do when it cannot be used.
import { resolve } from 'node:path'
import { parseWholeNumber } from './ini-values.js'
import type { ConfigError } from './settings.js'

export interface JournalConfig {
  /** `local`, `off`, or a `redis://HOST:PORT/DB` URL. */
  readonly store: string
  /** Where `local` keeps its store. */
  readonly directory: string
  /** journal_days: how long a delivery is remembered, longer than senders retry (5 days, commonly). */
  readonly retentionDays: number
  /**
   * When the journal cannot be read or written: `deliver` runs the program anyway (a retry of a
   * message already delivered may then be delivered again), `defer` answers 4xx (the sender retries
   * once the journal is back). Either way no recipient whose run did not succeed is answered 250.
   */
  readonly unavailable: 'deliver' | 'defer'
}

export const JOURNAL_KEYS = ['journal', 'journal_directory', 'journal_days', 'journal_unavailable'] as const

export const JOURNAL_DEFAULTS = { store: 'local', directory: 'pipe_transport-journal', retentionDays: 7, unavailable: 'deliver' } as const

export function readJournalConfig(main: Readonly<Record<string, unknown>>, installDir: string, errors: ConfigError[]): JournalConfig {
  const fail = (key: string, message: string): void => void errors.push({ section: 'main', key, message })
  const text = (key: string): string | undefined => (main[key] === undefined ? undefined : String(main[key]).trim())

  const store = text('journal') ?? JOURNAL_DEFAULTS.store
  const isRedis = /^rediss?:\/\//.test(store)
  if (!['local', 'off'].includes(store) && !(isRedis && URL.canParse(store))) {
    fail('journal', `"${store}" must be local, off or redis://HOST:PORT/DB`)
  }
  const retentionDays = parseWholeNumber(text('journal_days') ?? JOURNAL_DEFAULTS.retentionDays, 1, 365)
  if ('error' in retentionDays) fail('journal_days', retentionDays.error)
  const unavailable = text('journal_unavailable') ?? JOURNAL_DEFAULTS.unavailable
  if (unavailable !== 'deliver' && unavailable !== 'defer') fail('journal_unavailable', `"${unavailable}" must be one of: deliver, defer`)
  return {
    store,
    directory: resolve(installDir, text('journal_directory') ?? JOURNAL_DEFAULTS.directory),
    retentionDays: 'value' in retentionDays ? retentionDays.value : JOURNAL_DEFAULTS.retentionDays,
    unavailable: unavailable === 'defer' ? 'defer' : 'deliver',
  }
}
