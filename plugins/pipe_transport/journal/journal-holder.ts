// The journal in use, across reloads of the config: a reload that changes the journal's keys opens
// the new one, and the old one stays open for the deliveries that began with it, long enough for
// any of them to end, before it is closed.
import { MAX_TIMEOUT_SECONDS } from '../settings/instance.js'
import type { JournalConfig } from '../settings/vocabulary.js'
import type { DeliveryJournal } from './delivery-journal.js'
import { openJournal, type JournalLog } from './open-journal.js'

/** Longer than any delivery that began with a journal a reload replaced (slot wait, run, grace). */
const RETIRE_AFTER_MS = (2 * MAX_TIMEOUT_SECONDS + 60) * 1000

export class JournalHolder {
  private config: JournalConfig | undefined
  /** The journal new deliveries use; undefined for `journal = off`. */
  current: DeliveryJournal | undefined

  use(config: JournalConfig, log: JournalLog): void {
    if (this.config && sameJournal(this.config, config)) return
    this.config = config
    const retired = this.current
    if (retired) setTimeout(() => void retired.close(), RETIRE_AFTER_MS).unref()
    this.current = openJournal(config, log)
  }

  close(): Promise<void> | undefined {
    return this.current?.close()
  }
}

function sameJournal(a: JournalConfig, b: JournalConfig): boolean {
  return (
    a.store === b.store &&
    a.directory === b.directory &&
    a.retentionDays === b.retentionDays &&
    a.unavailable === b.unavailable
  )
}
