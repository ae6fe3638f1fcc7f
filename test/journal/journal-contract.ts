// The behaviour every journal store must show, run against each real store (local LMDB and a real
// redis-server) by its own test file.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DeliveryJournal } from '../../plugins/pipe_transport/journal/delivery-journal.js'

export const LONG_LEASE_MS = 60_000

export function keys(count: number): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(32))
}

/** Polls until check() holds, so that expiry tests wait only as long as they must. */
export async function eventually(check: () => Promise<boolean>, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${limitMs} ms`)
    await sleep(20)
  }
}

/** Waits until begin() claims the key again: the store is back, or the old entry expired. */
export async function untilClaimed(journal: DeliveryJournal, key: Buffer, what: string): Promise<void> {
  await eventually(async () => {
    try {
      return (await journal.begin([key], LONG_LEASE_MS)).states[0] === 'claimed'
    } catch {
      return false
    }
  }, what)
}

/** @param open a journal with the given retention, on one store shared by every call */
export function journalContract(open: (retentionMs: number) => DeliveryJournal): void {
  it('claims new keys, then answers busy to a second caller while the claim is live', async () => {
    const journal = open(LONG_LEASE_MS)
    const batch = keys(3)
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['claimed', 'claimed', 'claimed'])
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['busy', 'busy', 'busy'])
  })

  it('answers delivered once recorded, and only for the keys recorded', async () => {
    const journal = open(LONG_LEASE_MS)
    const [a, b] = keys(2) as [Buffer, Buffer]
    const claim = await journal.begin([a, b], LONG_LEASE_MS)
    await journal.delivered(claim, [a])
    assert.deepEqual((await journal.begin([a, b], LONG_LEASE_MS)).states, ['delivered', 'busy'])
  })

  it('lets a retry claim at once what the failed run released', async () => {
    const journal = open(LONG_LEASE_MS)
    const [a, b] = keys(2) as [Buffer, Buffer]
    const claim = await journal.begin([a, b], LONG_LEASE_MS)
    await journal.delivered(claim, [a])
    await journal.release(claim, [b])
    assert.deepEqual((await journal.begin([a, b], LONG_LEASE_MS)).states, ['delivered', 'claimed'])
  })

  it('never drops a claim that another caller holds, nor a delivered record', async () => {
    const journal = open(LONG_LEASE_MS)
    const [a, b] = keys(2) as [Buffer, Buffer]
    const first = await journal.begin([a], LONG_LEASE_MS)
    const second = await journal.begin([a, b], LONG_LEASE_MS)
    assert.deepEqual(second.states, ['busy', 'claimed'])
    await journal.release(second, [a, b]) // a is the first caller's
    assert.deepEqual((await journal.begin([a, b], LONG_LEASE_MS)).states, ['busy', 'claimed'])
    await journal.delivered(first, [a])
    await journal.release(first, [a])
    assert.deepEqual((await journal.begin([a], LONG_LEASE_MS)).states, ['delivered'])
  })

  it('claims a key given twice in one call once', async () => {
    const journal = open(LONG_LEASE_MS)
    const [a] = keys(1) as [Buffer]
    assert.deepEqual((await journal.begin([a, a], LONG_LEASE_MS)).states, ['claimed', 'busy'])
  })

  it('lets a claim whose holder vanished expire after its lease', async () => {
    const journal = open(LONG_LEASE_MS)
    const batch = keys(2)
    const crashed = await journal.begin(batch, 150)
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['busy', 'busy'])
    // The two leases may end a millisecond apart: count each key once it has been claimed again.
    const claimedAgain = new Set<number>()
    await eventually(async () => {
      ;(await journal.begin(batch, LONG_LEASE_MS)).states.forEach(
        (state, i) => state === 'claimed' && claimedAgain.add(i),
      )
      return claimedAgain.size === batch.length
    }, 'lease expiry')
    // The first holder comes back late: its release must not drop the new claims.
    await journal.release(crashed, batch)
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['busy', 'busy'])
  })

  it('forgets a delivered record after the retention', async () => {
    const journal = open(200)
    const [a] = keys(1) as [Buffer]
    await journal.delivered(await journal.begin([a], LONG_LEASE_MS), [a])
    assert.deepEqual((await journal.begin([a], LONG_LEASE_MS)).states, ['delivered'])
    await eventually(async () => (await journal.begin([a], LONG_LEASE_MS)).states[0] === 'claimed', 'retention expiry')
  })

  it('records a run that outlived its lease as delivered all the same', async () => {
    const journal = open(LONG_LEASE_MS)
    const [a] = keys(1) as [Buffer]
    const late = await journal.begin([a], 100)
    await eventually(async () => (await journal.begin([a], LONG_LEASE_MS)).states[0] === 'claimed', 'lease expiry')
    await journal.delivered(late, [a])
    assert.deepEqual((await journal.begin([a], LONG_LEASE_MS)).states, ['delivered'])
  })
}

/** Collects unhandled rejections and uncaught exceptions: either would stop Haraka. */
export function watchForStrayErrors(): { readonly errors: unknown[]; stop(): void } {
  const errors: unknown[] = []
  const record = (error: unknown): void => void errors.push(error)
  process.on('unhandledRejection', record)
  process.on('uncaughtException', record)
  return {
    errors,
    stop() {
      process.off('unhandledRejection', record)
      process.off('uncaughtException', record)
    },
  }
}
