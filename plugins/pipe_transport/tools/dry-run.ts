// The try command's --dry-run: a delivery plan (delivery-plan.ts) as text, for a person to read.
// Values are JSON-quoted, so that spaces, empty values and odd characters show exactly.
import type { DeliveryPlan, PlannedInvocation, PlannedRecipient } from './dry-run-plan.js'
import { replyFor, replyLine, type Outcome } from '../settings/replies.js'
import { refusalLine } from '../routing/rcpt-policy.js'
import type { Instance } from '../settings/settings.js'

export interface MessageFile {
  readonly name: string
  readonly bytes: number
}

export function describePlan(plan: DeliveryPlan, message: MessageFile | undefined): string[] {
  const width = Math.max(...plan.recipients.map(({ routed }) => routed.address.length))
  const lines = plan.recipients.map((planned) => describeRecipient(planned, width))
  if (plan.runs.length === 0) lines.push('', 'pipe_transport delivers nothing: no recipient it routes would be accepted.')
  for (const run of plan.runs) lines.push('', ...describeRun(run, message))
  return lines
}

function describeRecipient({ routed, decision }: PlannedRecipient, width: number): string {
  const route = routed.match?.route
  const data = routed.match?.data ? ` with route data ${JSON.stringify(routed.match.data)}` : ''
  const answer =
    decision.kind !== 'continue'
      ? refusalLine(decision)
      : route
        ? `routed to [${route.name}]${data}${route.checkRecipient ? ', which accepts it (check_recipient)' : ''}`
        : "not routed by pipe_transport: Haraka's other plugins decide"
  return `RCPT TO:${`<${routed.address}>`.padEnd(width + 2)}  ${answer}`
}

function describeRun({ instance, envelope, invocation }: PlannedInvocation, message: MessageFile | undefined): string[] {
  const recipients = envelope.recipients.map((recipient) => recipient.address).join(' ')
  if ('refused' in invocation) {
    const refusal = replyLine(replyFor({ kind: 'refused', reason: invocation.refused }, instance.exitCodes))
    return [`[${instance.name}] would not run ${instance.program} for ${recipients}: ${invocation.refused}`, `  the client gets ${refusal}`]
  }
  const environment = Object.entries(invocation.env).map(([name, value]) => `${name}=${JSON.stringify(value)}`)
  return [
    `[${instance.name}] runs ${instance.program} once for ${recipients}`,
    `  argv         ${JSON.stringify([instance.program, ...invocation.argv])}`,
    `  environment  ${environment[0] ?? '(empty)'}`,
    ...environment.slice(1).map((line) => `               ${line}`),
    `  stdin        ${describeStdin(instance, message)}`,
    `  directory    ${instance.directory}`,
    `  stdout       appended to ${instance.outputFile}`,
    `  stderr       appended to ${instance.errorFile}`,
    `  runs as      ${instance.uid === undefined ? "Haraka's user" : `uid ${instance.uid}, gid ${instance.gid ?? '?'}`}`,
    `  timeout      ${instance.timeoutSeconds} s, at most ${instance.maxConcurrency} at once per Haraka process`,
    ...replies(instance, [
      [`killed by a signal`, { kind: 'signaled', signal: 'SIGNAME' }],
      [`runs past ${instance.timeoutSeconds} s`, { kind: 'timed-out', seconds: instance.timeoutSeconds }],
      ['cannot be started', { kind: 'start-failed', cause: '' }],
    ]),
  ]
}

function describeStdin(instance: Instance, message: MessageFile | undefined): string {
  const { shape } = instance
  const first = [
    ...(shape.fromLine ? ['a "From " line'] : []),
    ...(shape.returnPath ? ['Return-Path:'] : []),
    ...(shape.xOriginalTo ? ['X-Original-To:'] : []),
    ...(shape.deliveredTo ? ['Delivered-To:'] : []),
  ]
  const what = message ? `${message.name} (${message.bytes} bytes as sent)` : 'the message'
  return [
    `${what} after Haraka's Received: header`,
    `${shape.lineEnding === '\r\n' ? 'CRLF' : 'LF'} line endings`,
    ...(first.length > 0 ? [`first ${first.join(', ')}`] : []),
    ...(shape.fromLine ? ['body lines "From " escaped as ">From "'] : []),
  ].join('; ')
}

/** The reply map: every mapped exit status, then any other, then the given ways a run can end. */
function replies(instance: Instance, endings: readonly (readonly [string, Outcome])[]): string[] {
  const table = instance.exitCodes
  const statuses = [...new Set([0, ...[...table.entries.keys()].sort((a, b) => a - b)])]
  const rows: [string, string][] = [
    ...statuses.map((status): [string, string] => [`exit ${status}`, replyLine(replyFor({ kind: 'exited', status }, table))]),
    ['any other exit', replyLine(table.otherwise).replaceAll('%d', 'N')],
    ...endings.map(([when, outcome]): [string, string] => [when, replyLine(replyFor(outcome, table))]),
  ]
  const width = Math.max(...rows.map(([when]) => when.length))
  return [
    '  replies',
    ...rows.map(([when, line]) => `    ${when.padEnd(width)}  ${line}`),
    ...(instance.statusFromStderr ? ['    (status_from_stderr: a failing run whose first stderr line starts 4.x.y or 5.x.y gets that line)'] : []),
  ]
}
