// journal = off: every key may run, nothing is recorded. A retry after a dropped reply is
// delivered again (the RFC 1047 duplicate), as before the journal existed.

import type { Claim, DeliveryJournal } from './delivery-journal.js'

export class NullJournal implements DeliveryJournal {
  readonly description = 'off'

  begin(keys: readonly Buffer[]): Promise<Claim> {
    return Promise.resolve({ states: keys.map(() => 'claimed' as const), token: Buffer.alloc(0) })
  }

  delivered(): Promise<void> {
    return Promise.resolve()
  }

  release(): Promise<void> {
    return Promise.resolve()
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
