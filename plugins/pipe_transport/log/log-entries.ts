// What Haraka's log and transaction.results record of a delivery. The objects are made here, in
// Node's main realm, because Haraka's logger merges only objects whose constructor is its own
// `Object` into logfmt and json lines; one made in the plugin sandbox would be printed whole.
import type { DeliveryReport } from '../queue/perform-run.js'
import type { Envelope, Recipient } from '../invocation/envelope.js'
import type { TransactionReport } from '../queue/deliver-transaction.js'
import { refusalLine, type RcptDecision } from '../routing/rcpt-policy.js'
import { HARAKA_REPLY, type Outcome, type Reply } from '../settings/replies.js'
import type { Instance } from '../settings/settings.js'

export type LogLevel = 'info' | 'warn' | 'error'

export interface DeliveryLog {
  readonly level: LogLevel
  readonly message: string
  readonly fields: Record<string, string | number>
  /** For transaction.results: exactly one of pass, fail, err. */
  readonly result: Record<string, string>
}

export function describeDelivery(instance: Instance, envelope: Envelope, report: DeliveryReport): DeliveryLog {
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
  if ('cause' in outcome) fields['cause'] = outcome.cause
  if ('reason' in outcome) fields['cause'] = outcome.reason

  // A verdict (the program's, a refused address, a mail loop) is a result, pass or fail; anything
  // the plugin had to end or could not start is an error.
  const verdict = outcome.kind === 'exited' || outcome.kind === 'refused' || outcome.kind === 'looped'
  const level: LogLevel = reply.verdict === 'ok' ? 'info' : verdict ? 'warn' : 'error'
  const result =
    reply.verdict === 'ok' ? { pass: instance.name } : verdict ? { fail: `${instance.name}: ${ended}` } : { err: `${instance.name}: ${ended}` }
  return { level, message: 'delivery', fields, result }
}

/**
 * The transaction's own line, after its runs' lines: how many recipients, how many runs, what the
 * journal had delivered before and what a run elsewhere still held, and the one reply.
 */
export function describeTransaction(queueId: string, report: TransactionReport): DeliveryLog {
  const failed = report.runs.filter(({ report: run }) => run.reply.verdict !== 'ok')
  const addresses = (recipients: readonly { address: string }[]): string => recipients.map((recipient) => recipient.address).join(',')
  const fields: Record<string, string | number> = {
    queue_id: queueId,
    recipients: report.runs.reduce((sum, { run }) => sum + run.recipients.length, 0) + report.alreadyDelivered.length + report.busy.length,
    runs: report.runs.length,
    rcpt: addresses([...report.runs.flatMap(({ run }) => run.recipients), ...report.alreadyDelivered, ...report.busy]),
    reply: loggedReply(report.reply),
  }
  if (report.alreadyDelivered.length > 0) fields['already_delivered'] = addresses(report.alreadyDelivered)
  if (report.busy.length > 0) fields['still_running'] = addresses(report.busy)
  if (failed.length > 0) fields['failed'] = addresses(failed.flatMap(({ run }) => run.recipients))
  const level: LogLevel = report.reply.verdict === 'ok' ? 'info' : 'warn'
  const result = report.reply.verdict === 'ok' ? { pass: 'transaction' } : { fail: `transaction: ${loggedReply(report.reply)}` }
  return { level, message: 'transaction', fields, result }
}

/** A reply as the log records it: its code and the plugin's text (none where Haraka's own goes out). */
function loggedReply(reply: Reply): string {
  return `${HARAKA_REPLY[reply.verdict].code} ${reply.text}`.trimEnd()
}

/** What check_program said of a recipient: INFO when it answered, WARN when it could not. */
export function describeRecipientCheck(instance: Instance, recipient: Recipient, decision: RcptDecision, outcome: Outcome): DeliveryLog {
  const answer = decision.kind === 'continue' ? 'exists' : refusalLine(decision)
  const fields: Record<string, string | number> = { instance: instance.name, rcpt: recipient.address, ended: endedOf(outcome), answer }
  if ('cause' in outcome) fields['cause'] = outcome.cause
  const level: LogLevel = decision.kind === 'denysoft' ? 'warn' : 'info'
  return { level, message: 'recipient check', fields, result: decision.kind === 'continue' ? { pass: `check ${instance.name}` } : { fail: `check ${instance.name}: ${answer}` } }
}

function endedOf(outcome: Outcome): string {
  return outcome.kind === 'exited' ? `exit ${outcome.status}` : outcome.kind === 'signaled' ? `signal ${outcome.signal}` : outcome.kind
}
