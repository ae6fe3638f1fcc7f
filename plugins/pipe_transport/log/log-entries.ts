// What Haraka's log and transaction.results record of the plugin's work: one line per run, one per
// transaction, one per check_program answer. The objects are made here, in Node's main realm,
// because Haraka's logger merges only objects whose constructor is its own `Object` into logfmt and
// json lines; one made in the plugin sandbox would be printed whole.
import type { CircuitChange } from '../circuit/circuit-breaker.js'
import type { Envelope } from '../invocation/envelope.js'
import type { CheckReport } from '../rcpt/check-program.js'
import type { RcptCommandAnswer } from '../rcpt/rcpt-command.js'
import type { TransactionReport } from '../queue/deliver-transaction.js'
import type { RunReport } from '../queue/perform-run.js'
import type { QueueOutcome } from '../queue/queue-transaction.js'
import type { DeliveryOutcome } from '../queue/run-reply.js'
import { refusalLine } from '../routing/rcpt-policy.js'
import { HARAKA_REPLY } from '../settings/replies.js'
import type { Instance, Reply } from '../settings/vocabulary.js'

export type LogLevel = 'info' | 'warn' | 'error'

export interface LogEntry {
  readonly level: LogLevel
  readonly message: string
  readonly fields?: Record<string, string | number>
  /** For transaction.results: exactly one of pass, fail, err. */
  readonly result?: Record<string, string>
}

/** The lines the queue hook logs for a transaction: its runs', the journal's problems, its own. */
export function queueLogEntries(outcome: QueueOutcome): LogEntry[] {
  switch (outcome.kind) {
    case 'not-ours':
      return []
    case 'mixed':
      return [
        {
          level: 'error',
          message: `recipients ${outcome.unrouted.join(' ')} are not routed, beside routed ones; refusing to deliver part of the transaction`,
        },
      ]
    case 'failed':
      return [{ level: 'error', message: `delivery failed inside the plugin: ${outcome.error}` }]
    case 'delivered': {
      const { report } = outcome
      return [
        ...report.runs.map(({ run, envelope, report: runReport }) => describeRun(run.instance, envelope, runReport)),
        ...report.journalProblems.map((problem): LogEntry => ({ level: 'error', message: problem })),
        describeTransaction(outcome.queueId, report),
      ]
    }
  }
}

/** The lines for the check_program answers of one RCPT command; none for an answer from the cache. */
export function rcptLogEntries(answer: RcptCommandAnswer): LogEntry[] {
  return answer.checks.flatMap((check) => (check.outcome === 'cached' ? [] : [describeCheck(check, check.outcome)]))
}

export function describeRun(instance: Instance, envelope: Envelope, report: RunReport): LogEntry {
  const { outcome, reply } = report
  const ended = endedOf(outcome)
  const fields: Record<string, string | number> = {
    queue_id: envelope.queueId,
    instance: instance.name,
    program: instance.program,
    recipients: envelope.recipients.length,
    rcpt: envelope.recipients.map((recipient) => recipient.address).join(','),
    bytes: report.bytes,
    duration_ms: report.durationMs,
    ended,
    reply: loggedReply(reply),
  }
  if ('error' in outcome) fields['cause'] = outcome.error

  // A verdict (the program's, a refused address, a mail loop, an open circuit's deferral) is a
  // result, pass or fail; anything the plugin had to end or could not start is an error.
  const verdict =
    outcome.kind === 'exited' ||
    outcome.kind === 'refused' ||
    outcome.kind === 'looped' ||
    outcome.kind === 'circuit-open'
  const level: LogLevel = reply.verdict === 'ok' ? 'info' : verdict ? 'warn' : 'error'
  const result =
    reply.verdict === 'ok'
      ? { pass: instance.name }
      : verdict
        ? { fail: `${instance.name}: ${ended}` }
        : { err: `${instance.name}: ${ended}` }
  return { level, message: 'delivery', fields, result }
}

/**
 * The transaction's own line, after its runs' lines: how many recipients, how many runs, what the
 * journal had delivered before and what a run elsewhere still held, and the one reply.
 */
export function describeTransaction(queueId: string, report: TransactionReport): LogEntry {
  const failed = report.runs.filter(({ report: run }) => run.reply.verdict !== 'ok')
  const addresses = (recipients: readonly { address: string }[]): string =>
    recipients.map((recipient) => recipient.address).join(',')
  const fields: Record<string, string | number> = {
    queue_id: queueId,
    recipients:
      report.runs.reduce((sum, { run }) => sum + run.recipients.length, 0) +
      report.alreadyDelivered.length +
      report.busy.length,
    runs: report.runs.length,
    rcpt: addresses([...report.runs.flatMap(({ run }) => run.recipients), ...report.alreadyDelivered, ...report.busy]),
    reply: loggedReply(report.reply),
  }
  if (report.alreadyDelivered.length > 0) fields['already_delivered'] = addresses(report.alreadyDelivered)
  if (report.busy.length > 0) fields['still_running'] = addresses(report.busy)
  if (failed.length > 0) fields['failed'] = addresses(failed.flatMap(({ run }) => run.recipients))
  return { level: report.reply.verdict === 'ok' ? 'info' : 'warn', message: 'transaction', fields }
}

/** What check_program said of a recipient: INFO when it answered, WARN when it could not. */
export function describeCheck({ instance, recipient, decision }: CheckReport, outcome: DeliveryOutcome): LogEntry {
  const answer = decision.kind === 'continue' ? 'exists' : refusalLine(decision)
  const fields: Record<string, string | number> = {
    instance: instance.name,
    rcpt: recipient.address,
    ended: endedOf(outcome),
    answer,
  }
  if ('error' in outcome) fields['cause'] = outcome.error
  return { level: decision.kind === 'denysoft' ? 'warn' : 'info', message: 'recipient check', fields }
}

/** A reply as the log records it: its code and the plugin's text (none where Haraka's own goes out). */
function loggedReply(reply: Reply): string {
  return `${HARAKA_REPLY[reply.verdict].code} ${reply.text}`.trimEnd()
}

function endedOf(outcome: DeliveryOutcome): string {
  return outcome.kind === 'exited'
    ? `exit ${outcome.status}`
    : outcome.kind === 'signaled'
      ? `signal ${outcome.signal}`
      : outcome.kind
}

/** A circuit breaker opened or closed (circuit/): one WARN line each way. */
export function describeCircuitChange(change: CircuitChange): LogEntry {
  const which = `circuit breaker of [${change.instance}]${change.routeData === undefined ? '' : ` route data ${JSON.stringify(change.routeData)}`}`
  const message =
    change.change === 'opened'
      ? `${which} opened after ${change.failures} consecutive failed runs: RCPT answers 451 4.3.0 for ${change.seconds} s, then one probe delivery`
      : `${which} closed: its program answered a probe delivery after ${change.seconds} s open`
  return { level: 'warn', message }
}
