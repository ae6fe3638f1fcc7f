// One transaction from the queue hook to its one reply: ask the delivery journal which recipients
// this message has been delivered to already (and claim the others), run the rest in runs planned
// by plan-runs.ts, all at once within each instance's max_concurrency, record what succeeded, tell
// the sender of a partial failure by a DSN (sender-notice.ts), and combine everything into one
// reply (transaction-reply.ts).
import type { Envelope } from '../invocation/envelope.js'
import { shapedInput } from '../invocation/message-shape.js'
import type { LineEnding } from '../invocation/program-input.js'
import type { Claim, DeliveryJournal } from '../journal/delivery-journal.js'
import type { RoutedRecipient } from '../routing/rcpt-policy.js'
import type { Recipient } from '../routing/recipient.js'
import {
  countDsnSent,
  countJournalError,
  countJournalHits,
  countJournalUnavailable,
  countRecipients,
  metricsOn,
} from '../metrics/delivery-metrics.js'
import { KILL_GRACE_MS } from '../running/process-groups.js'
import type { Reply } from '../settings/vocabulary.js'
import type { HarakaMessageStream } from '../types/haraka-types.js'
import { messageOf } from '../util/error-message.js'
import { deliveryId } from './delivery-id.js'
import { recipientKey } from './fingerprint.js'
import { ONE_RUN_COPY_MAX_BYTES, copyMessage, harakaSource } from './message-source.js'
import { performRun, type RunReport } from './perform-run.js'
import { oncePerMailbox, planRuns, type PlannedRun } from './plan-runs.js'
import type { NoticeOutcome } from './sender-notice.js'
import { partialPermanentFailure, partlyDeliveredReply, transactionReply, type Settled } from './transaction-reply.js'

/** Beyond a run's slot wait and run, what a claim must outlast: the kill grace and the stdio linger. */
const LEASE_SLACK_MS = KILL_GRACE_MS + 30_000

export interface TransactionInput {
  /** Every recipient of the transaction with its route. */
  readonly routed: readonly RoutedRecipient[]
  /** The envelope without its recipients: each run gets its own. */
  readonly envelope: Omit<Envelope, 'recipients'>
  readonly message: {
    readonly stream: HarakaMessageStream
    readonly bytes: number
    /** The message's fingerprint for the journal (fingerprint.ts); undefined when none was taken. */
    fingerprint(): Buffer | undefined
  }
  /** Undefined with `journal = off`. */
  readonly journal: DeliveryJournal | undefined
  readonly journalUnavailable: 'deliver' | 'defer'
  readonly partialFailure: 'bounce' | 'reject'
  /** Tells the envelope sender about recipients that failed for good (sender-notice.ts). */
  readonly noticeToSender: (
    failed: readonly { readonly recipient: Recipient; readonly reply: Reply }[],
    delivered: number,
  ) => Promise<NoticeOutcome>
}

/** A run of the transaction, done: what it was, with its own envelope, and how it went. */
export interface CompletedRun {
  readonly run: PlannedRun
  readonly envelope: Envelope
  readonly report: RunReport
}

export interface TransactionReport {
  readonly reply: Reply
  readonly runs: readonly CompletedRun[]
  /** Recipients the journal had delivered already: no run. */
  readonly alreadyDelivered: readonly Recipient[]
  /** Recipients a run elsewhere still held (another connection, worker or MX host): no run, 4xx. */
  readonly busy: readonly Recipient[]
  /** After a partial failure with partial_failure = bounce: whether a DSN told the sender. */
  readonly notice: NoticeOutcome | undefined
  /** Recipients deferred because the journal could not be asked (journal_unavailable = defer): no run, 4xx. */
  readonly deferred: readonly Recipient[]
  /** What went wrong with the journal, for the log; the reply has taken it into account. */
  readonly journalProblems: readonly string[]
}

export const ALREADY_DELIVERED: Reply = {
  verdict: 'ok',
  text: '2.0.0 already delivered (pipe_transport delivery journal)',
}
export const STILL_RUNNING: Reply = {
  verdict: 'denysoft',
  text: '4.3.0 a delivery of this message is still running, try again later',
}
const NO_FINGERPRINT =
  "pipe_transport took no fingerprint of this message for the delivery journal (another plugin's data hook answered DATA before pipe_transport's ran)"

export const JOURNAL_DOWN: Reply = {
  verdict: 'denysoft',
  text: '4.3.0 pipe transport delivery journal unavailable, try again later',
}

export async function deliverTransaction(input: TransactionInput): Promise<TransactionReport> {
  const { journal } = input
  const problems: string[] = []
  const routed = oncePerMailbox(input.routed)
  const settled: Settled[] = []
  const alreadyDelivered: Recipient[] = []
  const busy: Recipient[] = []
  let toRun = routed
  let claimed: { claim: Claim; keys: Map<Recipient, Buffer> } | undefined

  // Taken as the message streamed in, so it costs next to nothing: the journal's keys and the
  // delivery ids made from them, which exist without a journal too (but not without a fingerprint).
  const fingerprint = input.message.fingerprint()
  const keys = new Map(
    fingerprint === undefined
      ? []
      : routed.map(({ recipient }) => [recipient, recipientKey(fingerprint, recipient.address)] as const),
  )
  const deliveryIds = new Map([...keys].map(([recipient, key]) => [recipient, deliveryId(key)] as const))
  if (journal) {
    try {
      if (fingerprint === undefined) throw new Error(NO_FINGERPRINT)
      const claim = await journal.begin([...keys.values()], leaseMs(routed))
      claimed = { claim, keys }
      toRun = routed.filter(({ recipient }, index) => {
        const state = claim.states[index]
        if (state === 'delivered') alreadyDelivered.push(recipient)
        else if (state === 'busy') busy.push(recipient)
        return state === 'claimed'
      })
    } catch (err) {
      countJournalError('begin')
      countJournalUnavailable(input.journalUnavailable)
      if (input.journalUnavailable === 'defer') {
        problems.push(`${messageOf(err)}; deferring the message (journal_unavailable = defer)`)
        const all = routed.map(({ recipient }) => recipient)
        countRecipientAnswers(routed, [{ recipients: all, reply: JOURNAL_DOWN }])
        return {
          reply: transactionReply([{ recipients: all, reply: JOURNAL_DOWN }]),
          runs: [],
          alreadyDelivered,
          busy,
          notice: undefined,
          deferred: all,
          journalProblems: problems,
        }
      }
      problems.push(
        `${messageOf(err)}; delivering without it (journal_unavailable = deliver): a retry of a message already delivered may be delivered again`,
      )
    }
  }
  if (alreadyDelivered.length > 0) settled.push({ recipients: alreadyDelivered, reply: ALREADY_DELIVERED })
  if (busy.length > 0) settled.push({ recipients: busy, reply: STILL_RUNNING })

  /** Records runs in the journal: a success at once, before the reply; a failure at the end. */
  const record = async (recipients: readonly Recipient[], outcome: 'delivered' | 'released'): Promise<void> => {
    if (!claimed || !journal || recipients.length === 0) return
    const keys = recipients.map((recipient) => claimed.keys.get(recipient)).filter((key) => key !== undefined)
    try {
      if (outcome === 'delivered') await journal.delivered(claimed.claim, keys)
      else await journal.release(claimed.claim, keys)
    } catch (err) {
      countJournalError(outcome === 'delivered' ? 'delivered' : 'release')
      problems.push(
        outcome === 'delivered'
          ? `${messageOf(err)}: the delivery to ${recipients.map((r) => r.address).join(' ')} is not recorded, a retry may deliver it again`
          : `${messageOf(err)}: the claim stays until its lease ends`,
      )
    }
  }

  let runs: CompletedRun[]
  try {
    runs = await runAll(planRuns(toRun), input, deliveryIds, async (run, report) => {
      if (report.reply.verdict === 'ok') await record(run.recipients, 'delivered')
    })
  } catch (err) {
    // Runs never fail this way (a run's failure is its report): copying the message did, before
    // any run began. The claims go, so that the sender's retry may run them at once.
    if (claimed)
      await journal?.release(claimed.claim, [...claimed.keys.values()]).catch(() => countJournalError('release'))
    throw err
  }
  for (const { run, report } of runs) settled.push({ recipients: run.recipients, reply: report.reply })

  // A failed run's claim is released only now: a partial failure that the sender learns of by a
  // DSN settles those recipients for good, so that a retry neither runs them nor reports them again.
  const failed = runs.filter(({ report }) => report.reply.verdict !== 'ok')
  const failedRecipients = failed.flatMap(({ run }) => run.recipients)
  const permanent = input.partialFailure === 'bounce' ? partialPermanentFailure(settled) : undefined
  const notice =
    permanent &&
    (await input.noticeToSender(
      permanent.flatMap(({ recipients, reply }) => recipients.map((recipient) => ({ recipient, reply }))),
      settled.filter((each) => each.reply.verdict === 'ok').reduce((sum, each) => sum + each.recipients.length, 0),
    ))
  if (notice?.kind === 'sent') countDsnSent()
  // A DSN told the sender (or none was owed): the failed recipients are settled for good.
  const reported = notice !== undefined && notice.kind !== 'failed' ? notice : undefined
  await record(failedRecipients, reported ? 'delivered' : 'released')
  countRecipientAnswers(routed, settled, alreadyDelivered, busy)
  const told = reported?.kind === 'sent' ? 'a DSN goes to the sender for' : `${reported?.why ?? ''}, failed for good:`
  return {
    reply: reported ? partlyDeliveredReply(settled, told) : transactionReply(settled),
    runs,
    alreadyDelivered,
    busy,
    notice,
    deferred: [],
    journalProblems: problems,
  }
}

/**
 * Runs every planned run at once (max_concurrency holds back what is too many), each reading the
 * message from one copy for all, or from Haraka when it is the only run and the message is large.
 */
async function runAll(
  planned: readonly PlannedRun[],
  input: TransactionInput,
  deliveryIds: ReadonlyMap<Recipient, string>,
  settle: (run: PlannedRun, report: RunReport) => Promise<void>,
): Promise<CompletedRun[]> {
  if (planned.length === 0) return []
  const { stream, bytes } = input.message
  const lineEndings = new Set<LineEnding>(planned.map((run) => run.instance.shape.lineEnding))
  const copy =
    planned.length > 1 || bytes <= ONE_RUN_COPY_MAX_BYTES ? await copyMessage(stream, lineEndings, bytes) : undefined
  const source = copy?.source ?? harakaSource(stream)
  try {
    return await Promise.all(
      planned.map(async (run) => {
        const envelope: Envelope = { ...input.envelope, recipients: run.recipients, deliveryIds }
        const report = await performRun(run.instance, envelope, shapedInput(source, run.instance.shape, envelope))
        // The program has ended: what it did not read of Haraka's stream is not waited for.
        if (!copy) stream.unpipe()
        await settle(run, report)
        return { run, envelope, report }
      }),
    )
  } finally {
    await copy?.dispose()
  }
}

/**
 * The metrics of a transaction's recipients: each by the answer it got, and those the journal
 * settled without a run.
 */
function countRecipientAnswers(
  routed: readonly RoutedRecipient[],
  settled: readonly Settled[],
  alreadyDelivered: readonly Recipient[] = [],
  busy: readonly Recipient[] = [],
): void {
  if (!metricsOn()) return
  const instanceOf = new Map(routed.map(({ instance, recipient }) => [recipient, instance.name]))
  const each = (recipients: readonly Recipient[], count: (instance: string, n: number) => void): void => {
    const perInstance = new Map<string, number>()
    for (const recipient of recipients) {
      const instance = instanceOf.get(recipient) ?? ''
      perInstance.set(instance, (perInstance.get(instance) ?? 0) + 1)
    }
    for (const [instance, n] of perInstance) count(instance, n)
  }
  for (const { recipients, reply } of settled)
    each(recipients, (instance, n) => countRecipients(instance, reply.verdict, n))
  each(alreadyDelivered, (instance, n) => countJournalHits(instance, 'already_delivered', n))
  each(busy, (instance, n) => countJournalHits(instance, 'still_running', n))
}

/** A claim outlasts the longest of the transaction's runs: a slot wait and a run, each up to its timeout. */
function leaseMs(routed: readonly RoutedRecipient[]): number {
  return Math.max(...routed.map(({ instance }) => instance.timeoutSeconds)) * 2000 + LEASE_SLACK_MS
}
