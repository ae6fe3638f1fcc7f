// From `[main] journal` (settings/journal-settings.ts has checked it) to a journal: 'local' (the
// default), a redis:// URL, or none for 'off', which delivers as if there were no journal. Opening
// is lazy for every store, so this never fails on an unreachable store: the operations reject
// instead, each within timeoutMs.

import type { JournalConfig } from '../settings/vocabulary.js'
import type { DeliveryJournal, StoreOptions } from './delivery-journal.js'
import { LocalJournal } from './local-journal.js'
import { RedisJournal } from './redis-journal.js'

export const DEFAULT_TIMEOUT_MS = 2000
const DAY_MS = 24 * 60 * 60 * 1000

/** Where a journal says what an operator should know (WARN) and must act on (ERROR). */
export type JournalLog = Pick<StoreOptions, 'warn' | 'error'>

export function openJournal(
  config: JournalConfig,
  log: JournalLog,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): DeliveryJournal | undefined {
  const options = { retentionMs: config.retentionDays * DAY_MS, timeoutMs, warn: log.warn, error: log.error }
  if (config.store === 'off') return undefined
  if (config.store === 'local')
    return new LocalJournal({ ...options, directory: config.directory, unavailable: config.unavailable })
  return new RedisJournal({ ...options, url: config.store })
}
