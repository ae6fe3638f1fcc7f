// The delivery journal's contract, shared by its two stores (local LMDB, Redis); `journal = off`
// has no journal at all (open-journal.ts).
//
// Per (message fingerprint, recipient) key it records successful program runs, so that a retry
// of the same message runs only the recipients not yet delivered, and it hands out time-limited
// claims, so that a retry arriving while a run is still going (another connection, another
// cluster worker, another MX host sharing Redis) never starts a second run at the same time.
//
// Keys are the caller's 32-byte SHA-256 digests. The journal stores them and a few bytes of state,
// never message content.

export type KeyState =
  /** A successful run is recorded and has not expired: do not run it again. */
  | 'delivered'
  /** Nothing recorded and nobody running it: this caller holds the claim and may run it now. */
  | 'claimed'
  /** Another caller holds a live claim: a run is going on elsewhere (answer 4xx, or wait). */
  | 'busy'

/**
 * What begin() hands back: one state per key, in the order given, and the owner token of the
 * claims it took. release() drops a claim only while the stored token is this claim's, so a caller
 * whose lease ran out can never drop the claim that someone else took over since.
 */
export interface Claim {
  readonly states: readonly KeyState[]
  readonly token: Buffer
}

/** What every store is given. */
export interface StoreOptions {
  /** How long a delivered entry is kept (journal_days). */
  readonly retentionMs: number
  /** The bound on every operation, opening and connecting included. */
  readonly timeoutMs: number
  /** Says what an operator should know: a damaged store moved aside, Redis lost or back. */
  readonly warn: (message: string) => void
  /** Says what an operator must act on: a store given up, so that exactly-once is off meanwhile. */
  readonly error: (message: string) => void
}

export interface DeliveryJournal {
  /** Which store this is, for log lines and error messages: 'local DIR', 'redis HOST:PORT/DB'. */
  readonly description: string

  /**
   * For each key, atomically per key across processes and hosts: 'delivered' if a successful run
   * is recorded and not expired; otherwise claim it for leaseMs ('claimed'); or 'busy' while
   * another caller's claim is live. A key given twice is claimed once, then 'busy'.
   * Pick leaseMs longer than the longest run: a run that outlives its lease can meet a second one.
   */
  begin(keys: readonly Buffer[], leaseMs: number): Promise<Claim>

  /**
   * The runs for these keys succeeded: record them as delivered for the retention time, replacing
   * the claims. Unconditional (a run that outlived its lease still delivered). Resolves only once
   * the record is where every later begin() sees it, in any process: a crash of Haraka can no
   * longer lose it (a crash of the whole machine can, within the window docs/journal.md gives).
   */
  delivered(claim: Claim, keys: readonly Buffer[]): Promise<void>

  /** The runs for these keys failed: drop this claim's own entries, never anyone else's. */
  release(claim: Claim, keys: readonly Buffer[]): Promise<void>

  /** Stops timers and connections; later calls reject. */
  close(): Promise<void>
}

/**
 * Every failure of a store comes out as this, within the journal's time bound, naming the store
 * and the operation: the caller then chooses between running anyway (a possible duplicate) and
 * deferring (4xx).
 */
export class JournalUnavailableError extends Error {
  /** No answer came within the bound: the store may still carry the operation out. */
  readonly timedOut: boolean

  constructor(
    journal: string,
    operation: string,
    /** Why, without the journal and the operation. */
    readonly reason: string,
    options?: { cause?: unknown; timedOut?: boolean },
  ) {
    super(`delivery journal (${journal}): ${operation} failed: ${reason}`, { cause: options?.cause })
    this.name = 'JournalUnavailableError'
    this.timedOut = options?.timedOut ?? false
  }
}
