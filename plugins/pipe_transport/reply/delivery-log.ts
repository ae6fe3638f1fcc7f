// What Haraka's log and transaction.results record of a delivery. The objects are made here, in
// Node's main realm, because Haraka's logger merges only objects whose constructor is its own
// `Object` into logfmt and json lines; one made in the plugin sandbox would be printed whole.
import type { DeliveryReport } from '../delivery.js'
import type { Envelope } from '../invocation/envelope.js'
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
  const ended =
    outcome.kind === 'exited' ? `exit ${outcome.status}` : outcome.kind === 'signaled' ? `signal ${outcome.signal}` : outcome.kind
  const code = reply.verdict === 'ok' ? 250 : reply.verdict === 'denysoft' ? 450 : 550
  const fields: Record<string, string | number> = {
    queue_id: envelope.queueId,
    instance: instance.name,
    program: instance.program,
    recipients: envelope.recipients.length,
    bytes: report.bytes,
    duration_ms: report.durationMs,
    ended,
    reply: `${code} ${reply.text}`.trimEnd(),
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
