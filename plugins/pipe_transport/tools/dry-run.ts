// The try command's --dry-run: its plan (dry-run-plan.ts) as text, for a person to read.
// Values are JSON-quoted, so that spaces, empty values and odd characters show exactly.
import { replyFor, type DeliveryOutcome } from '../queue/run-reply.js'
import { circuitOpenAtRcpt } from '../rcpt/rcpt-command.js'
import { refusalLine } from '../routing/rcpt-policy.js'
import { replyLine } from '../settings/replies.js'
import type { Instance } from '../settings/vocabulary.js'
import type { TriedRecipient, TriedRun, TryPlan } from './dry-run-plan.js'
import type { LiveCircuits } from './live-circuits.js'

const rcptLine = (address: string): string => refusalLine(circuitOpenAtRcpt(address))

export interface MessageFile {
  readonly name: string
  readonly bytes: number
}

export function describePlan(plan: TryPlan, message: MessageFile | undefined, circuits: LiveCircuits): string[] {
  const width = Math.max(...plan.recipients.map(({ route }) => route.address.length))
  const lines = plan.recipients.map((planned) => describeRecipient(planned, width))
  if (plan.runs.length === 0)
    lines.push('', 'pipe_transport delivers nothing: no recipient it routes would be accepted.')
  for (const run of plan.runs) lines.push('', ...describeRun(run, message), ...describeCircuit(run, circuits))
  return lines
}

function describeRecipient({ route, decision }: TriedRecipient, width: number): string {
  const instance = route.match?.instance
  const data = route.match?.data ? ` with route data ${JSON.stringify(route.match.data)}` : ''
  const answer =
    decision.kind !== 'continue'
      ? refusalLine(decision)
      : instance
        ? `routed to [${instance.name}]${data}${instance.acceptsAtRcpt ? ', which accepts it (check_recipient)' : ''}`
        : "not routed by pipe_transport: Haraka's other plugins decide"
  return `RCPT TO:${`<${route.address}>`.padEnd(width + 2)}  ${answer}`
}

function describeRun({ instance, envelope, spec }: TriedRun, message: MessageFile | undefined): string[] {
  const recipients = envelope.recipients.map((recipient) => recipient.address).join(' ')
  if (!spec.ok) {
    const refusal = replyLine(replyFor({ kind: 'refused', error: spec.error }, instance.exitCodes))
    return [
      `[${instance.name}] would not run ${instance.program} for ${recipients}: ${spec.error}`,
      `  the client gets ${refusal}`,
    ]
  }
  const environment = Object.entries(spec.value.env).map(([name, value]) => `${name}=${JSON.stringify(value)}`)
  return [
    `[${instance.name}] runs ${instance.program} once for ${recipients}`,
    `  argv         ${JSON.stringify([instance.program, ...spec.value.argv])}`,
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
      ['cannot be started', { kind: 'start-failed', error: '' }],
      ...(instance.circuitBreaker ? [['circuit breaker open', { kind: 'circuit-open' }] as const] : []),
    ]),
  ]
}

/** The run's circuit breaker: when it opens and what a sender then sees, and its state now if Haraka tells. */
function describeCircuit({ instance, envelope }: TriedRun, circuits: LiveCircuits): string[] {
  const breaker = instance.circuitBreaker
  if (!breaker) return ['  circuit      no breaker (circuit_breaker = false)']
  const [first] = envelope.recipients
  const rcpt = first ? rcptLine(first.address) : ''
  const open = circuits.kind === 'read' ? (circuits.open.get(instance.name) ?? 0) : 0
  return [
    `  circuit      opens after ${breaker.failures} consecutive runs that time out, cannot start or fail temporarily`,
    `  while open   RCPT gets ${rcpt}`,
    `               for ${breaker.waitSeconds} s, then one probe delivery; each failed probe doubles the wait, up to ${breaker.maxWaitSeconds} s`,
    `               (one circuit per ${breaker.scope === 'route_data' ? 'route data' : 'instance'} in each Haraka process)`,
    circuits.kind === 'unknown'
      ? `  circuit now  unknown: ${circuits.why}`
      : open === 0
        ? `  circuit now  closed in every Haraka process (${circuits.url})`
        : `  circuit now  OPEN: ${open} ${open === 1 ? 'circuit' : 'circuits'} in the running Haraka, where RCPT gets 451 (${circuits.url})`,
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
function replies(instance: Instance, endings: readonly (readonly [string, DeliveryOutcome])[]): string[] {
  const table = instance.exitCodes
  const statuses = [...new Set([0, ...[...table.entries.keys()].sort((a, b) => a - b)])]
  const rows: [string, string][] = [
    ...statuses.map((status): [string, string] => [
      `exit ${status}`,
      replyLine(replyFor({ kind: 'exited', status }, table)),
    ]),
    ['any other exit', replyLine(table.otherwise).replaceAll('%d', 'N')],
    ...endings.map(([when, outcome]): [string, string] => [when, replyLine(replyFor(outcome, table))]),
  ]
  const width = Math.max(...rows.map(([when]) => when.length))
  return [
    '  replies',
    ...rows.map(([when, line]) => `    ${when.padEnd(width)}  ${line}`),
    ...(instance.statusFromStderr
      ? ['    (status_from_stderr: a failing run whose first stderr line starts 4.x.y or 5.x.y gets that line)']
      : []),
  ]
}
