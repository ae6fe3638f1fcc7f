// The delivery journal's keys, all in [main]: which store, where a local one lives, how long it
// remembers, and what to do when it cannot be used.
import type { SectionReader } from './section-reader.js'
import type { JournalConfig } from './vocabulary.js'

export const JOURNAL_DEFAULTS = {
  store: 'local',
  directory: 'pipe_transport-journal',
  retentionDays: 7,
  unavailable: 'deliver',
} as const

export function readJournalConfig(main: SectionReader, installDir: string): JournalConfig {
  const store = main.text('journal', JOURNAL_DEFAULTS.store)
  const isRedis = /^rediss?:\/\//.test(store)
  if (!['local', 'off'].includes(store) && !(isRedis && URL.canParse(store))) {
    main.fail('journal', `"${store}" must be local, off or redis://HOST:PORT/DB`)
  } else if (isRedis && new URL(store).hostname === '') {
    // The client would take 127.0.0.1:6379 without a word: a journal elsewhere than meant.
    main.fail(
      'journal',
      `"${store}" names no host: write redis://HOST:PORT/DB (redis://127.0.0.1:6379/0 for a Redis on this host)`,
    )
  }
  return {
    store,
    directory: main.path('journal_directory', JOURNAL_DEFAULTS.directory, installDir),
    retentionDays: main.integer('journal_days', JOURNAL_DEFAULTS.retentionDays, 1, 365),
    unavailable: main.choice('journal_unavailable', ['deliver', 'defer'], JOURNAL_DEFAULTS.unavailable),
  }
}
