// Removes expired entries from the local store a few at a time. LMDB has no TTL, and a full scan
// would cost time in proportion to a week of recipients; instead each step looks at the next few
// entries after a cursor that walks the key space round and round, four for each key claimed since
// the last step. Looking at several entries per new key makes the sweep outpace the growth, so
// expired entries never pile up: at PER_NEW_KEY = 4 a full round takes a quarter of the entries'
// count in new keys, and the store holds at most the live entries plus a quarter as many expired
// ones. Keys are SHA-256 digests, so the cursor's order is no order of time or sender. The journal
// process steps once a second, outside the transactions that answer Haraka, where opening a cursor
// for a few entries cost a quarter of each begin().

import type { RootDatabase } from 'lmdb'
import type { Instant } from './lease-clock.js'
import { decodeEntry, isLive } from './local-entry.js'

const PER_NEW_KEY = 4

export class ExpirySweep {
  private after: Buffer | undefined

  /** Call inside a write transaction. */
  step(store: RootDatabase<Buffer, Buffer>, newKeys: number, now: Instant): void {
    const limit = PER_NEW_KEY * Math.max(1, newKeys)
    const seen: { key: Buffer; value: Buffer }[] = []
    for (const entry of store.getRange(
      this.after === undefined ? { limit } : { start: this.after, limit: limit + 1 },
    )) {
      if (this.after !== undefined && entry.key.equals(this.after)) continue
      seen.push(entry)
    }
    for (const { key, value } of seen) {
      const entry = decodeEntry(value)
      if (entry === undefined || !isLive(entry, now)) store.removeSync(key)
    }
    // At the end of the key space the next step starts again from the first key.
    this.after = seen.length < limit ? undefined : seen[seen.length - 1]?.key
  }
}
