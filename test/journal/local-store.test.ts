// The local store's leases under a clock that someone steps: the store is given an injected clock
// (the journal process gives it the system's), so a step of an hour takes no hour.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { Instant } from '../../plugins/pipe_transport/journal/lease-clock.js'
import { LocalStore, type StoreRequest } from '../../plugins/pipe_transport/journal/local-store.js'
import { keys } from './journal-contract.js'

const HOUR_MS = 3600_000
const LEASE_MS = 30_000
const root = mkdtempSync(join(tmpdir(), 'journal-store-'))
const stores: LocalStore[] = []
after(async () => {
  await Promise.all(stores.map((store) => store.close()))
  rmSync(root, { recursive: true, force: true })
})

/** A clock the test moves: the wall clock steps, the monotonic one only runs. */
class TestClock {
  bootId = randomBytes(16)
  monotonicMs = 1_000_000
  wallMs = Date.UTC(2026, 0, 1)

  readonly read = (): Instant => ({ bootId: this.bootId, monotonicMs: this.monotonicMs, wallMs: this.wallMs })

  /** Time passes: both clocks run. */
  pass(ms: number): void {
    this.monotonicMs += ms
    this.wallMs += ms
  }

  /** ntpd or an operator sets the wall clock; the monotonic clock does not move. */
  step(ms: number): void {
    this.wallMs += ms
  }
}

function openStore(name: string, clock: TestClock, retentionMs = 7 * 24 * HOUR_MS): LocalStore {
  const store = LocalStore.open(join(root, name), retentionMs, clock.read)
  stores.push(store)
  return store
}

const token = (): Buffer => randomBytes(16)
const begin = (batch: readonly Buffer[], owner = token(), leaseMs = LEASE_MS): StoreRequest => ({
  operation: 'begin',
  token: owner,
  leaseMs,
  keys: batch,
})
const delivered = (batch: readonly Buffer[], owner: Buffer): StoreRequest => ({
  operation: 'delivered',
  token: owner,
  leaseMs: 0,
  keys: batch,
})
const release = (batch: readonly Buffer[], owner: Buffer): StoreRequest => ({
  operation: 'release',
  token: owner,
  leaseMs: 0,
  keys: batch,
})

describe('local store: leases under a stepped clock', () => {
  it('keeps a claim for its whole lease when the wall clock steps an hour forward', () => {
    const clock = new TestClock()
    const store = openStore('forward', clock)
    const batch = keys(2)
    assert.deepEqual(store.apply([begin(batch)]), [['claimed', 'claimed']])
    clock.step(HOUR_MS)
    clock.pass(LEASE_MS - 1000)
    assert.deepEqual(store.apply([begin(batch)]), [['busy', 'busy']])
  })

  it('ends a claim at its lease when the wall clock steps an hour back', () => {
    const clock = new TestClock()
    const store = openStore('back', clock)
    const batch = keys(2)
    store.apply([begin(batch)])
    clock.step(-HOUR_MS)
    clock.pass(LEASE_MS - 1000)
    assert.deepEqual(store.apply([begin(batch)]), [['busy', 'busy']])
    clock.pass(1001)
    assert.deepEqual(store.apply([begin(batch)]), [['claimed', 'claimed']])
  })

  it('ends every claim of an earlier boot: no program survives a reboot', () => {
    const clock = new TestClock()
    const store = openStore('reboot', clock)
    const batch = keys(1)
    store.apply([begin(batch, token(), HOUR_MS)])
    // A new boot: a new id, and the monotonic clock starts again from near zero.
    clock.bootId = randomBytes(16)
    clock.monotonicMs = 5000
    assert.deepEqual(store.apply([begin(batch)]), [['claimed']])
  })

  it('keeps a delivered record for the retention by the wall clock, across reboots', () => {
    const clock = new TestClock()
    const store = openStore('retention', clock, 10 * HOUR_MS)
    const batch = keys(1)
    const owner = token()
    store.apply([begin(batch, owner), delivered(batch, owner)])
    clock.bootId = randomBytes(16)
    clock.monotonicMs = 0
    clock.step(10 * HOUR_MS - 1000)
    assert.deepEqual(store.apply([begin(batch)]), [['delivered']])
    clock.step(1001)
    assert.deepEqual(store.apply([begin(batch)]), [['claimed']])
  })
})

describe('local store: the claims it holds', () => {
  it('releases, when asked, only the claims it took and that are still its own', () => {
    const clock = new TestClock()
    const store = openStore('held', clock)
    const other = openStore('held', clock)
    const [running, done, failed, expired] = keys(4) as [Buffer, Buffer, Buffer, Buffer]
    const owner = token()
    store.apply([begin([running, done, failed], owner), begin([expired], owner, 1000)])
    store.apply([delivered([done], owner), release([failed], owner)])
    clock.pass(1001)
    // Its lease ended, and another process took it over: no longer this store's to drop.
    assert.deepEqual(other.apply([begin([expired])]), [['claimed']])
    assert.equal(store.heldCount, 2)
    assert.equal(store.releaseHeld(), 1)
    assert.equal(store.heldCount, 0)
    assert.deepEqual(other.apply([begin([running, done, failed, expired])]), [
      ['claimed', 'delivered', 'claimed', 'busy'],
    ])
  })

  it('runs the requests of one batch in order, each seeing what the ones before it wrote', () => {
    const clock = new TestClock()
    const store = openStore('batch', clock)
    const [a, b] = keys(2) as [Buffer, Buffer]
    const first = token()
    assert.deepEqual(
      store.apply([begin([a, b], first), delivered([a], first), begin([a, b]), release([b], first), begin([b])]),
      [['claimed', 'claimed'], [], ['delivered', 'busy'], [], ['claimed']],
    )
  })
})
