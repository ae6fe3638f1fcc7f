// journal = local: the journal in an LMDB store on this host, kept by a journal process of this
// Haraka process (journal-process.ts, through journal-link.ts), so that no damage to the store can
// crash Haraka and no program can inherit the store's descriptor.
//
// A journal process that dies (a damaged store crashed it) fails the operations it had, each still
// within its bound, and is replaced after a short delay; the new one checks the store and moves a
// damaged one aside. One whose operations keep failing (a corrupt lock file, a disk that returns
// errors) is ended after a few failures in a row and replaced the same way, with an ERROR that
// says pipe_transport is without exactly-once meanwhile: never the same broken store for every
// message. The delays grow while nothing succeeds, up to a minute.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { messageOf } from '../util/error-message.js'
import { within } from '../util/within.js'
import { boundedOperation } from './bounded-operation.js'
import type { Claim, DeliveryJournal, KeyState, StoreOptions } from './delivery-journal.js'
import { JournalUnavailableError } from './delivery-journal.js'
import { JournalLink } from './journal-link.js'
import { TOKEN_BYTES, type Operation } from './journal-wire.js'

export interface LocalJournalOptions extends StoreOptions {
  /** The store's directory; created when missing. */
  readonly directory: string
  /** journal_unavailable, for what the log says the plugin does while the store cannot be used. */
  readonly unavailable: 'deliver' | 'defer'
}

/** Failed operations in a row after which the journal process and its store are given up and opened anew. */
export const REOPEN_AFTER_FAILURES = 3
const FIRST_RESTART_DELAY_MS = 250
const MAX_RESTART_DELAY_MS = 60_000
/** The ERROR for a store given up is logged at most this often; the next one counts those held back. */
const GIVE_UP_LOG_EVERY_MS = 60_000

export class LocalJournal implements DeliveryJournal {
  readonly description: string
  private link: JournalLink | undefined
  private restart: NodeJS.Timeout | undefined
  private failuresInARow = 0
  private restartsInARow = 0
  /** The link being ended because its store kept failing: its end is logged already. */
  private givenUp: JournalLink | undefined
  private lastGiveUpLogged = Number.NEGATIVE_INFINITY
  private giveUpsHeldBack = 0
  private closed = false

  constructor(private readonly options: LocalJournalOptions) {
    this.description = `local ${options.directory}`
  }

  /** What the journal's own log lines start with, as its operations' errors do. */
  private get logPrefix(): string {
    return `delivery journal (${this.description}): `
  }

  async begin(keys: readonly Buffer[], leaseMs: number): Promise<Claim> {
    const token = randomBytes(TOKEN_BYTES)
    return { states: await this.operate('begin', token, keys, leaseMs), token }
  }

  async delivered(claim: Claim, keys: readonly Buffer[]): Promise<void> {
    await this.operate('delivered', claim.token, keys, 0)
  }

  async release(claim: Claim, keys: readonly Buffer[]): Promise<void> {
    await this.operate('release', claim.token, keys, 0)
  }

  /**
   * Every delivery that used it has ended: its process carries out what it was handed, releases
   * what is left and exits. Resolves then, or after the operations' time bound.
   */
  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.restart)
    const link = this.link
    this.link = undefined
    if (link) await within(link.close(), this.options.timeoutMs, undefined)
  }

  private async operate(
    operation: Operation,
    token: Buffer,
    keys: readonly Buffer[],
    leaseMs: number,
  ): Promise<KeyState[]> {
    if (keys.length === 0) return []
    const link = this.usableLink(operation)
    // Operations that wait for a store still being checked and opened say nothing of the store.
    const counts = link.ready
    const { timeoutMs } = this.options
    try {
      const states = await boundedOperation(this.description, operation, timeoutMs, async () =>
        operation === 'begin'
          ? link.begin(token, keys, leaseMs, timeoutMs)
          : link.handOver(operation, token, keys, timeoutMs).then((): KeyState[] => []),
      )
      this.failuresInARow = 0
      this.restartsInARow = 0
      return states
    } catch (error) {
      // A begin that timed out may still be carried out: drop whatever it claims.
      if (operation === 'begin' && error instanceof JournalUnavailableError && error.timedOut && link.alive)
        void link.handOver('release', token, keys, timeoutMs).catch(() => undefined)
      if (counts && link.alive) this.failed(link, error)
      throw error
    }
  }

  private usableLink(operation: Operation): JournalLink {
    const unavailable = (why: string): JournalUnavailableError =>
      new JournalUnavailableError(this.description, operation, why)
    if (this.closed) throw unavailable('the journal is closed')
    if (this.link) return this.link
    if (this.restart) throw unavailable('its journal process is being replaced')
    return (this.link = this.start())
  }

  private start(): JournalLink {
    const link: JournalLink = new JournalLink(this.options.directory, this.options.retentionMs, {
      warn: (message) => this.options.warn(`${this.logPrefix}${message}`),
      failedAfterHandover: (why) => {
        this.options.error(
          `${this.logPrefix}recording a delivery or releasing a claim failed after the reply was given: ${why}; ` +
            'a retry of that message may be delivered again, or answered "still running" until its lease ends',
        )
        this.failed(link, new Error(why))
      },
      ended: (why, onPurpose) => this.ended(link, why, onPurpose),
    })
    return link
  }

  private failed(link: JournalLink, error: unknown): void {
    if (++this.failuresInARow < REOPEN_AFTER_FAILURES || this.givenUp === link) return
    this.givenUp = link
    const reason = error instanceof JournalUnavailableError ? error.reason : messageOf(error)
    const meanwhile =
      this.options.unavailable === 'deliver'
        ? 'messages are delivered without exactly-once (journal_unavailable = deliver): a retry of a message delivered before may be delivered again'
        : 'messages are deferred (journal_unavailable = defer)'
    this.logGiveUp(
      `${this.logPrefix}${REOPEN_AFTER_FAILURES} operations in a row failed (the last: ${reason}); giving up on ` +
        `the store: a new journal process opens it again in ${seconds(this.nextRestartDelay())}, and until one works ${meanwhile}`,
    )
    link.kill()
  }

  private ended(link: JournalLink, why: string, onPurpose: boolean): void {
    if (this.link !== link) return
    this.link = undefined
    this.failuresInARow = 0
    if (this.closed) return
    const delay = this.nextRestartDelay()
    this.restartsInARow++
    if (this.givenUp !== link && !onPurpose)
      this.options.warn(`${this.logPrefix}${why}; a new journal process starts in ${seconds(delay)}`)
    this.restart = setTimeout(() => {
      this.restart = undefined
      if (!this.closed && !this.link) this.link = this.start()
    }, delay)
    this.restart.unref()
  }

  private nextRestartDelay(): number {
    return Math.min(FIRST_RESTART_DELAY_MS * 2 ** this.restartsInARow, MAX_RESTART_DELAY_MS)
  }

  private logGiveUp(message: string): void {
    const now = performance.now()
    if (now - this.lastGiveUpLogged < GIVE_UP_LOG_EVERY_MS) {
      this.giveUpsHeldBack++
      return
    }
    const heldBack =
      this.giveUpsHeldBack > 0 ? ` (given up ${this.giveUpsHeldBack} more times since the last such message)` : ''
    this.lastGiveUpLogged = now
    this.giveUpsHeldBack = 0
    this.options.error(`${message}${heldBack}`)
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 1000 ? 2 : 0)} s`
}
