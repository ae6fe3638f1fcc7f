// From the value of `[main] journal` to a journal: 'local' (the default), a redis:// URL, or 'off'.
// Opening is lazy for every store, so this never fails on an unreachable store: the operations
// reject instead, each within timeoutMs.

import type { DeliveryJournal } from './delivery-journal.js'
import { LocalJournal } from './local-journal.js'
import { NullJournal } from './null-journal.js'
import { RedisJournal } from './redis-journal.js'

export interface JournalSettings {
  /** The value of [main] journal. */
  readonly journal: string
  /** Where `local` keeps its store. */
  readonly localDirectory: string
  /** journal_days, in milliseconds. */
  readonly retentionMs: number
  /** The bound on every operation; 2 s by default. */
  readonly timeoutMs?: number
  readonly warn: (message: string) => void
}

export const DEFAULT_TIMEOUT_MS = 2000

/** Throws, with a message that says what is allowed, for a value that names no store. */
export function openJournal(settings: JournalSettings): DeliveryJournal {
  const { journal, retentionMs, warn } = settings
  const timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (journal === 'off') return new NullJournal()
  if (journal === 'local') {
    return new LocalJournal({ directory: settings.localDirectory, retentionMs, timeoutMs, warn })
  }
  if (/^rediss?:\/\//.test(journal)) {
    if (!URL.canParse(journal)) throw new Error(`journal = ${journal}: not a valid redis:// URL`)
    return new RedisJournal({ url: journal, retentionMs, timeoutMs, warn })
  }
  throw new Error(`journal = ${journal}: expected local, off or redis://HOST:PORT/DB`)
}
