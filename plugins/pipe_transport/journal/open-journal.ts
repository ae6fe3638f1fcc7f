// From `[main] journal` (settings/journal-settings.ts has checked it) to a journal: 'local' (the
// default), a redis:// URL, or none for 'off', which delivers as if there were no journal. Opening
// is lazy for every store, so this never fails on an unreachable store: the operations reject
// instead, each within timeoutMs.

import type { JournalConfig } from '../settings/vocabulary.js'
import type { DeliveryJournal } from './delivery-journal.js'
import { LocalJournal } from './local-journal.js'
import { RedisJournal } from './redis-journal.js'

export const DEFAULT_TIMEOUT_MS = 2000
const DAY_MS = 24 * 60 * 60 * 1000

export function openJournal(
  config: JournalConfig,
  warn: (message: string) => void,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): DeliveryJournal | undefined {
  const retentionMs = config.retentionDays * DAY_MS
  if (config.store === 'off') return undefined
  if (config.store === 'local') return new LocalJournal({ directory: config.directory, retentionMs, timeoutMs, warn })
  return new RedisJournal({ url: config.store, retentionMs, timeoutMs, warn })
}
