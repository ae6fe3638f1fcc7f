// What Haraka's log and transaction.results record of a delivery. The objects are made here, in
// Node's main realm, because Haraka's logger merges only objects whose constructor is its own
// `Object` into logfmt and json lines; one made in the plugin sandbox would be printed whole.
import type { DeliveryReport } from '../delivery.js'
import type { Envelope } from '../invocation/envelope.js'
import { HARAKA_REPLY } from './exit-reply.js'
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
  const fields: Record<string, string | number> = {
    queue_id: envelope.queueId,
    instance: instance.name,
    program: instance.program,
    recipients: envelope.recipients.length,
    bytes: report.bytes,
    duration_ms: report.durationMs,
    ended,
    reply: `${HARAKA_REPLY[reply.verdict].code} ${reply.text}`.trimEnd(),
  }
  if ('cause' in outcome) fields['cause'] = outcome.cause
  if ('reason' in outcome) fields['cause'] = outcome.reason

  // A verdict (the program's, or a refused address) is a result, pass or fail; anything the
  // plugin had to end or could not start is an error.
  const programSpoke = outcome.kind === 'exited' || outcome.kind === 'refused'
  const level: LogLevel = reply.verdict === 'ok' ? 'info' : programSpoke ? 'warn' : 'error'
  const result =
    reply.verdict === 'ok' ? { pass: instance.name } : programSpoke ? { fail: `${instance.name}: ${ended}` } : { err: `${instance.name}: ${ended}` }
  return { level, message: 'delivery', fields, result }
}
