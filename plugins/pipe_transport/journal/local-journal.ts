// journal = local: the journal in an LMDB store on this host (lmdb-js). LMDB is made for this:
// several processes (Haraka's cluster workers) open one store at once, a write transaction holds
// a lock shared by all of them (a robust mutex: a process that dies holding it releases it), and
// a crash at any moment leaves the last committed state. lmdb-js commits on its own thread, so a
// slow disk delays a promise, never Haraka's event loop.

import { randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { open, type RootDatabase } from 'lmdb'
import { messageOf } from '../util/error-message.js'
import { boundedOperation } from './bounded-operation.js'
import type { Claim, DeliveryJournal, KeyState, StoreOptions } from './delivery-journal.js'
import { JournalUnavailableError } from './delivery-journal.js'
import { ExpirySweep } from './expiry-sweep.js'
import { decodeEntry, encodeClaim, encodeDelivered } from './local-entry.js'
import { checkStore } from './store-check.js'

export interface LocalJournalOptions extends StoreOptions {
  /** The store's directory; created when missing. */
  readonly directory: string
}

/** A store that failed to open is tried again at the next operation after this long, not before. */
const REOPEN_AFTER_MS = 1000
/** A read-through check of a week of entries takes about a second per million: allow for a slow disk. */
const CHECK_TIMEOUT_MS = 60_000

export class LocalJournal implements DeliveryJournal {
  readonly description: string
  private opening: Promise<RootDatabase<Buffer, Buffer>> | undefined
  private failedAt = 0
  private closed = false
  private readonly sweep = new ExpirySweep()

  constructor(private readonly options: LocalJournalOptions) {
    this.description = `local ${options.directory}`
  }

  begin(keys: readonly Buffer[], leaseMs: number): Promise<Claim> {
    const token = randomBytes(16)
    return this.write('begin', async (store) => {
      const states = await store.transaction(() => {
        const now = Date.now()
        const states = keys.map((key): KeyState => {
          const entry = decodeEntry(store.getBinary(key))
          if (entry !== undefined && entry.expiresAt > now) return entry.kind === 'delivered' ? 'delivered' : 'busy'
          store.putSync(key, encodeClaim(now + leaseMs, token))
          return 'claimed'
        })
        this.sweep.step(store, keys.length, now)
        return states
      })
      return { states, token }
    })
  }

  delivered(_claim: Claim, keys: readonly Buffer[]): Promise<void> {
    return this.write('delivered', async (store) => {
      await store.transaction(() => {
        const expiresAt = Date.now() + this.options.retentionMs
        for (const key of keys) store.putSync(key, encodeDelivered(expiresAt))
      })
      // Flushed to the disk, not just committed: a record that survives a crash of the machine
      // too. Measured here, waiting for the flush costs nothing over waiting for the commit
      // (lmdb-js syncs each commit on its write thread either way, about 0.5 ms on this disk).
      await store.flushed
    })
  }

  release(claim: Claim, keys: readonly Buffer[]): Promise<void> {
    return this.write('release', async (store) => {
      await store.transaction(() => {
        for (const key of keys) {
          const entry = decodeEntry(store.getBinary(key))
          if (entry?.kind === 'claimed' && entry.token.equals(claim.token)) store.removeSync(key)
        }
      })
    })
  }

  async close(): Promise<void> {
    this.closed = true
    const opening = this.opening
    this.opening = undefined
    const store = await opening?.catch(() => undefined)
    await store?.close()
  }

  private write<T>(operation: string, work: (store: RootDatabase<Buffer, Buffer>) => Promise<T>): Promise<T> {
    return boundedOperation(this.description, operation, this.options.timeoutMs, async () => {
      const store = await this.store(operation)
      try {
        return await work(store)
      } catch (error) {
        throw new JournalUnavailableError(this.description, operation, await commitFailure(error), { cause: error })
      }
    })
  }

  private store(operation: string): Promise<RootDatabase<Buffer, Buffer>> {
    if (this.closed)
      return Promise.reject(new JournalUnavailableError(this.description, operation, 'the journal is closed'))
    if (this.opening === undefined) {
      if (Date.now() - this.failedAt < REOPEN_AFTER_MS) {
        return Promise.reject(
          new JournalUnavailableError(this.description, operation, 'the store could not be opened a moment ago'),
        )
      }
      this.opening = this.open()
      this.opening.catch((error: unknown) => {
        this.opening = undefined
        this.failedAt = Date.now()
        this.options.warn(messageOf(error))
      })
    }
    return this.opening
  }

  private async open(): Promise<RootDatabase<Buffer, Buffer>> {
    const { directory } = this.options
    const fail = (why: string, cause?: unknown): JournalUnavailableError =>
      new JournalUnavailableError(this.description, 'open', why, { cause })
    try {
      await mkdir(directory, { recursive: true })
    } catch (error) {
      throw fail(`cannot create the directory: ${messageOf(error)}`, error)
    }
    const check = await checkStore(directory, CHECK_TIMEOUT_MS)
    if (check.verdict === 'refused') throw fail(check.why)
    if (check.verdict === 'moved aside') {
      this.options.warn(
        `${this.description}: the store was damaged (${check.why}); moved it to ${check.to} and started a new one`,
      )
      await mkdir(directory, { recursive: true })
    }
    try {
      return open<Buffer, Buffer>({
        path: directory,
        keyEncoding: 'binary',
        encoding: 'binary',
        // Batching by event turn queues an internal commit promise that nobody awaits: a failed
        // commit (disk full) then becomes an unhandled rejection, which would stop Haraka.
        // begin/delivered/release each run one explicit transaction, so nothing is lost by it.
        eventTurnBatching: false,
      })
    } catch (error) {
      throw fail(messageOf(error), error)
    }
  }
}

/**
 * lmdb-js rejects a failed commit with "Commit failed (see commitError for details)" and the real
 * reason (e.g. "No space left on device") in a second promise, which must be handled too or it
 * becomes an unhandled rejection.
 */
async function commitFailure(error: unknown): Promise<string> {
  const details = (error as { commitError?: unknown } | undefined)?.commitError
  if (!(details instanceof Promise)) return messageOf(error)
  return details.then(
    () => messageOf(error),
    (reason: unknown) => `${messageOf(error)}: ${messageOf(reason)}`,
  )
}
