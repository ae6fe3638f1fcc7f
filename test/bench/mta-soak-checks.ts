// Holds what the MTA soak's clients were answered against what its program logged: every
// recipient of every message has exactly one successful run, no message was answered 250 before
// all its recipients had one, and every other reply fits what the program did.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import type { SmtpReply } from '../e2e/smtp.js'
import { MTA_TEMP_TEXT, seqOfRecipient } from './mta-soak-program.js'

/** What the plugin answers a retry that meets a run of the same message and recipient still going. */
export const STILL_RUNNING_TEXT = '4.3.0 a delivery of this message is still running, try again later'
/** What it answers a retry of a message delivered to every recipient before. */
export const ALREADY_DELIVERED_TEXT = '2.0.0 already delivered (pipe_transport delivery journal)'

/** One program run, as logged. */
export interface Run {
  readonly queueId: string
  readonly instance: string
  readonly outcome: 'ok' | 'temp'
  readonly bytes: number
  /** The seq on the last line the program read; undefined when it did not read to the end. */
  readonly seqRead: number | undefined
  readonly recipients: readonly string[]
}

export function parseRun(line: string): Run {
  const [queueId = '', instance = '', outcome = '', bytes = '', seqRead = '', ...recipients] = line.split(' ')
  if ((outcome !== 'ok' && outcome !== 'temp') || recipients.length === 0)
    throw new Error(`bad mta soak log line: ${line}`)
  return {
    queueId,
    instance,
    outcome,
    bytes: Number(bytes),
    seqRead: seqRead === '-' ? undefined : Number(seqRead),
    recipients,
  }
}

/**
 * The program's log as it grows: read again from where it was left at each look, so that a client
 * can ask, the moment it is answered 250, whether every recipient has had its successful run.
 */
export class RunLog {
  private offset = 0
  private partial = ''
  readonly runs: Run[] = []
  private readonly delivered = new Map<string, number>()

  constructor(private readonly path: string) {}

  /** Takes in what the program appended since the last look. */
  refresh(): void {
    let fd: number
    try {
      fd = openSync(this.path, 'r')
    } catch {
      return // no run yet
    }
    try {
      const appended = Buffer.alloc(fstatSync(fd).size - this.offset)
      const read = readSync(fd, appended, 0, appended.length, this.offset)
      this.offset += read
      const lines = (this.partial + appended.subarray(0, read).toString('latin1')).split('\n')
      this.partial = lines.pop() ?? ''
      for (const line of lines) if (line !== '') this.add(parseRun(line))
    } finally {
      closeSync(fd)
    }
  }

  private add(run: Run): void {
    this.runs.push(run)
    if (run.outcome === 'ok')
      for (const rcpt of run.recipients) this.delivered.set(rcpt, (this.delivered.get(rcpt) ?? 0) + 1)
  }

  /** Successful runs logged so far for one recipient address (addresses are unique per message). */
  successes(rcpt: string): number {
    return this.delivered.get(rcpt) ?? 0
  }
}

/** One attempt of a message: dropped after the dot, or answered. */
export type Attempt =
  | { readonly kind: 'dropped' }
  | {
      readonly kind: 'reply'
      readonly reply: SmtpReply
      /** For a 250: recipients with no successful run logged when it came (must be none). */
      readonly undelivered: readonly string[]
    }

/** One message the soak sent, again and again until it got 250 (or gave up). */
export interface Message {
  readonly seq: number
  readonly recipients: readonly string[]
  /** The message's size with LF line ends, as the program receives it (plus Haraka's Received). */
  readonly lfBytes: number
  readonly attempts: readonly Attempt[]
  /** Why the client gave up: a refused recipient, a 5xx, no reply, too many attempts. */
  readonly error?: string
}

export interface MtaVerdicts {
  readonly recipients: number
  /** `seq rcpt` with no successful run. */
  readonly neverDelivered: readonly string[]
  /** `seq rcpt` with more than one successful run. */
  readonly deliveredTwice: readonly string[]
  /** 250 replies that came while a recipient had no successful run, or after a failed run in that transaction. */
  readonly acceptedEarly: readonly string[]
  /** Successful runs that did not read the whole message. */
  readonly incompleteReads: readonly string[]
  /** Runs of several recipients where recipient_limit is 1, or of recipients of another instance. */
  readonly wrongRuns: readonly string[]
  /** Runs for recipients no message had. */
  readonly strangers: readonly string[]
  /** 4xx replies that fit no run: not the program's text and not "still running", or naming no failed run. */
  readonly wrongReplies: readonly string[]
  readonly clientErrors: readonly string[]
  readonly counts: {
    readonly attempts: number
    readonly dropped: number
    readonly tempReplies: number
    readonly stillRunning: number
    readonly alreadyDelivered: number
    readonly okRuns: number
    readonly tempRuns: number
  }
}

/** The queue id Haraka appends to a reply at the queue hook: `... (QUEUE-ID)`. */
function queueIdOf(reply: SmtpReply): string | undefined {
  return /\(([^()\s]+)\)$/.exec(reply.text)?.[1]
}

/** Which instance a recipient's domain routes to, in the soak's config. */
export const INSTANCE_OF_DOMAIN: Readonly<Record<string, string>> = { 'one.test': 'one', 'two.test': 'two' }
/** recipient_limit per instance in the soak's config (none: every recipient of the message). */
export const RECIPIENT_LIMIT: Readonly<Record<string, number>> = { one: 1 }

export function judgeMta(messages: readonly Message[], runs: readonly Run[]): MtaVerdicts {
  const planned = new Map<string, Message>()
  for (const message of messages) for (const rcpt of message.recipients) planned.set(rcpt, message)
  const byQueueId = new Map<string, Run[]>()
  for (const run of runs) byQueueId.set(run.queueId, [...(byQueueId.get(run.queueId) ?? []), run])

  const successes = new Map<string, number>()
  const incompleteReads: string[] = []
  const wrongRuns: string[] = []
  const strangers: string[] = []
  for (const run of runs) {
    const said = `run ${run.queueId} [${run.instance}] ${run.outcome} ${run.recipients.join(' ')}`
    const limit = RECIPIENT_LIMIT[run.instance]
    if (limit !== undefined && run.recipients.length > limit)
      wrongRuns.push(`${said}: more than recipient_limit = ${limit}`)
    const seqs = new Set(run.recipients.map(seqOfRecipient))
    if (seqs.size !== 1) wrongRuns.push(`${said}: recipients of several messages in one run`)
    for (const rcpt of run.recipients) {
      const message = planned.get(rcpt)
      if (!message) {
        strangers.push(said)
        continue
      }
      if (INSTANCE_OF_DOMAIN[rcpt.slice(rcpt.indexOf('@') + 1)] !== run.instance)
        wrongRuns.push(`${said}: ${rcpt} belongs to another instance`)
      if (run.outcome !== 'ok') continue
      successes.set(rcpt, (successes.get(rcpt) ?? 0) + 1)
      if (run.seqRead !== message.seq || run.bytes < message.lfBytes) {
        incompleteReads.push(
          `${said}: read ${run.bytes} bytes up to seq ${run.seqRead ?? '-'}, the message has ${message.lfBytes} and seq ${message.seq}`,
        )
      }
    }
  }

  const neverDelivered: string[] = []
  const deliveredTwice: string[] = []
  const acceptedEarly: string[] = []
  const wrongReplies: string[] = []
  const clientErrors: string[] = []
  const counts = {
    attempts: 0,
    dropped: 0,
    tempReplies: 0,
    stillRunning: 0,
    alreadyDelivered: 0,
    okRuns: 0,
    tempRuns: 0,
  }
  for (const run of runs) counts[run.outcome === 'ok' ? 'okRuns' : 'tempRuns']++
  for (const message of messages) {
    if (message.error !== undefined) clientErrors.push(`message ${message.seq}: ${message.error}`)
    for (const rcpt of message.recipients) {
      const count = successes.get(rcpt) ?? 0
      if (count === 0) neverDelivered.push(`message ${message.seq} ${rcpt}`)
      if (count > 1) deliveredTwice.push(`message ${message.seq} ${rcpt}: ${count} successful runs`)
    }
    for (const attempt of message.attempts) {
      counts.attempts++
      if (attempt.kind === 'dropped') {
        counts.dropped++
        continue
      }
      const { reply } = attempt
      const said = `message ${message.seq} got "${reply.code} ${reply.text}"`
      const ranHere = byQueueId.get(queueIdOf(reply) ?? '') ?? []
      if (reply.code === 250) {
        if (reply.text.startsWith(ALREADY_DELIVERED_TEXT)) counts.alreadyDelivered++
        if (attempt.undelivered.length > 0)
          acceptedEarly.push(`${said} while ${attempt.undelivered.join(' ')} had no successful run`)
        const failed = ranHere.filter((run) => run.outcome !== 'ok')
        if (failed.length > 0)
          acceptedEarly.push(`${said} although ${failed.flatMap((run) => run.recipients).join(' ')} failed in it`)
      } else if (reply.code === 450 && reply.text.startsWith(STILL_RUNNING_TEXT)) {
        counts.stillRunning++
      } else if (reply.code === 450 && reply.text.startsWith(MTA_TEMP_TEXT)) {
        counts.tempReplies++
        const failed = ranHere.filter((run) => run.outcome === 'temp').flatMap((run) => run.recipients)
        if (failed.length === 0) wrongReplies.push(`${said}, but no run of that transaction failed`)
        // With several recipients the text names the failed ones; a recipient that succeeded is not among them.
        const delivered = ranHere.filter((run) => run.outcome === 'ok').flatMap((run) => run.recipients)
        if (message.recipients.length > 1) {
          for (const rcpt of failed)
            if (!reply.text.includes(rcpt)) wrongReplies.push(`${said}, which does not name ${rcpt} that failed`)
          for (const rcpt of delivered)
            if (reply.text.includes(rcpt)) wrongReplies.push(`${said}, which names ${rcpt} that was delivered`)
        }
      } else {
        wrongReplies.push(said)
      }
    }
  }
  return {
    recipients: planned.size,
    neverDelivered,
    deliveredTwice,
    acceptedEarly,
    incompleteReads,
    wrongRuns,
    strangers,
    wrongReplies,
    clientErrors,
    counts,
  }
}
