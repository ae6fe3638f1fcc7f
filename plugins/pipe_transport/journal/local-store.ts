// The local store itself: an LMDB environment (lmdb-js), opened by the journal process only
// (journal-process.ts), never by Haraka. LMDB is made for this: several processes (the journal
// processes of Haraka's cluster workers) open one store at once, a write transaction holds a lock
// shared by all of them (a robust mutex: a process that dies holding it releases it), and a crash
// of a process at any moment leaves the last committed state.
//
// Commits are synchronous and not flushed (noSync): a committed transaction is in the page cache,
// where every process sees it and a crash of Haraka or of this process cannot lose it; flushing
// it to the disk as well would cost most of a transaction's time (docs/performance.md). The
// journal process flushes the store about once a second and when it ends instead
// (docs/journal.md says what that means after a crash of the machine).
//
// The store also remembers which claims it took and has not yet seen delivered or released: when
// Haraka goes away, those are dropped at once instead of holding a retry off until their lease ends.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import type { KeyState } from './delivery-journal.js'
import { ExpirySweep } from './expiry-sweep.js'
import type { LeaseClock } from './lease-clock.js'
import { decodeEntry, encodeClaim, encodeDelivered, isLive } from './local-entry.js'
import type { Request } from './journal-wire.js'

export type StoreRequest = Omit<Request, 'id'>

/** What a write transaction does to the claims held, applied once it has committed. */
type HeldChange =
  | { readonly hold: true; readonly key: string; readonly token: Buffer }
  | { readonly hold: false; readonly key: string; readonly token?: Buffer }

/** lmdb-js has the environment's flush, mdb_env_sync() on a worker thread, but does not declare it. */
interface Flushable {
  sync(callback: (error?: unknown) => void): void
}

interface FileIdentity {
  readonly dev: number
  readonly ino: number
  readonly size: number
}

export class LocalStore {
  /** Claims this store took and nobody has delivered or released yet: key (latin1) to owner token. */
  private readonly held = new Map<string, Buffer>()
  private readonly sweep = new ExpirySweep()
  private readonly dataFile: string
  private identity: FileIdentity | undefined
  private unflushed = false
  /** Keys claimed since the sweep's last step. */
  private claimedSinceSweep = 0

  private constructor(
    private readonly store: RootDatabase<Buffer, Buffer>,
    directory: string,
    private readonly retentionMs: number,
    private readonly clock: LeaseClock,
  ) {
    this.dataFile = join(directory, 'data.mdb')
    this.identity = identityOf(this.dataFile)
  }

  /** Opens (or creates) the store in an existing directory. Throws what LMDB says. */
  static open(directory: string, retentionMs: number, clock: LeaseClock): LocalStore {
    const store = open<Buffer, Buffer>({ path: directory, keyEncoding: 'binary', encoding: 'binary', noSync: true })
    return new LocalStore(store, directory, retentionMs, clock)
  }

  /**
   * Runs the requests in one write transaction, in order, and gives each its states (begin) or an
   * empty list. A failure (a full disk, a damaged page) throws and commits none of them.
   */
  apply(requests: readonly StoreRequest[]): KeyState[][] {
    const now = this.clock()
    const changes: HeldChange[] = []
    const results = this.store.transactionSync(() =>
      requests.map((request): KeyState[] => {
        switch (request.operation) {
          case 'begin': {
            const token = Buffer.from(request.token)
            const states = request.keys.map((key): KeyState => {
              const entry = decodeEntry(this.store.getBinary(key))
              if (entry !== undefined && isLive(entry, now)) return entry.kind === 'delivered' ? 'delivered' : 'busy'
              this.store.putSync(key, encodeClaim(now, request.leaseMs, request.token))
              changes.push({ hold: true, key: key.toString('latin1'), token })
              return 'claimed'
            })
            return states
          }
          case 'delivered': {
            // Unconditional: a run that outlived its lease still delivered.
            const value = encodeDelivered(now.wallMs + this.retentionMs)
            for (const key of request.keys) {
              this.store.putSync(key, value)
              changes.push({ hold: false, key: key.toString('latin1') })
            }
            return []
          }
          case 'release': {
            for (const key of request.keys) {
              const entry = decodeEntry(this.store.getBinary(key))
              if (entry?.kind === 'claimed' && entry.token.equals(request.token)) this.store.removeSync(key)
              changes.push({ hold: false, key: key.toString('latin1'), token: request.token })
            }
            return []
          }
        }
      }),
    )
    this.unflushed = true
    for (const change of changes) {
      if (change.hold) {
        this.held.set(change.key, change.token)
        this.claimedSinceSweep++
      } else if (change.token === undefined || this.held.get(change.key)?.equals(change.token))
        this.held.delete(change.key)
    }
    return results
  }

  /** How many claims this store took are still held. */
  get heldCount(): number {
    return this.held.size
  }

  /** Drops every claim this store took that is still held (only while it is still that claim). */
  releaseHeld(): number {
    let released = 0
    this.store.transactionSync(() => {
      for (const [key, token] of this.held) {
        const bytes = Buffer.from(key, 'latin1')
        const entry = decodeEntry(this.store.getBinary(bytes))
        if (entry?.kind === 'claimed' && entry.token.equals(token) && this.store.removeSync(bytes)) released++
      }
    })
    this.held.clear()
    this.unflushed = true
    return released
  }

  /** Removes expired entries, four for each key claimed since the last sweep (expiry-sweep.ts). */
  sweepExpired(): void {
    if (this.claimedSinceSweep === 0) return
    const now = this.clock()
    this.store.transactionSync(() => this.sweep.step(this.store, this.claimedSinceSweep, now))
    this.claimedSinceSweep = 0
    this.unflushed = true
  }

  /** Writes what was committed since the last flush to the disk (fdatasync, off this thread). */
  async flush(): Promise<void> {
    if (!this.unflushed) return
    this.unflushed = false
    try {
      await new Promise<void>((resolve, reject) =>
        (this.store as unknown as Flushable).sync((error) =>
          error === undefined || error === null ? resolve() : reject(toError(error)),
        ),
      )
    } catch (error) {
      this.unflushed = true
      throw error
    }
  }

  /**
   * Whether data.mdb is still the file this store opened: not removed, not replaced by another
   * file, not shrunk (LMDB only ever grows it; a page past a cut is a SIGBUS). A stat, so cheap
   * enough for every batch.
   */
  changedOnDisk(): string | undefined {
    const now = identityOf(this.dataFile)
    const before = this.identity
    if (now === undefined) return `${this.dataFile} was removed`
    if (before !== undefined && (now.dev !== before.dev || now.ino !== before.ino))
      return `${this.dataFile} was replaced by another file`
    if (before !== undefined && now.size < before.size)
      return `${this.dataFile} shrank from ${before.size} to ${now.size} bytes`
    this.identity = now
    return undefined
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      await this.store.close()
    }
  }
}

function identityOf(path: string): FileIdentity | undefined {
  const stats = statSync(path, { throwIfNoEntry: false })
  return stats === undefined ? undefined : { dev: stats.dev, ino: stats.ino, size: stats.size }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
