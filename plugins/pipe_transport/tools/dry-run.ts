// The try command's --dry-run: its plan (dry-run-plan.ts) as text, for a person to read.
// Values are JSON-quoted, so that spaces, empty values and odd characters show exactly.
import { replyFor, type DeliveryOutcome } from '../queue/run-reply.js'
import { refusalLine } from '../routing/rcpt-policy.js'
import { replyLine } from '../settings/replies.js'
import type { Instance } from '../settings/vocabulary.js'
import type { TriedRecipient, TriedRun, TryPlan } from './dry-run-plan.js'

export interface MessageFile {
  readonly name: string
  readonly bytes: number
}

export function describePlan(plan: TryPlan, message: MessageFile | undefined): string[] {
  const width = Math.max(...plan.recipients.map(({ route }) => route.address.length))
  const lines = plan.recipients.map((planned) => describeRecipient(planned, width))
  if (plan.runs.length === 0)
    lines.push('', 'pipe_transport delivers nothing: no recipient it routes would be accepted.')
  for (const run of plan.runs) lines.push('', ...describeRun(run, message))
  return lines
}

function describeRecipient({ route, decision }: TriedRecipient, width: number): string {
  const instance = route.match?.instance
  const data = route.match?.data ? ` with route data ${JSON.stringify(route.match.data)}` : ''
  const answer =
    decision.kind !== 'continue'
      ? refusalLine(decision)
      : instance
        ? `routed to [${instance.name}]${data}${acceptance(instance)}`
        : "not routed by pipe_transport: Haraka's other plugins decide"
  return `RCPT TO:${`<${route.address}>`.padEnd(width + 2)}  ${answer}`
}

/** Who accepts a routed recipient at RCPT: the instance itself, or Haraka's rcpt plugins; and check_program, which a dry run does not ask. */
function acceptance(instance: Instance): string {
  const who = instance.acceptsAtRcpt
    ? ', which accepts it (check_recipient)'
    : "; Haraka's rcpt plugins decide whether it is accepted"
  return instance.checkProgram ? `${who}, if check_program says it exists (not asked in a dry run)` : who
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
    `  runs as      ${runsAs(instance)}`,
    `  timeout      ${instance.timeoutSeconds} s, at most ${instance.maxConcurrency} at once per Haraka process`,
    ...replies(instance, [
      [`killed by a signal`, { kind: 'signaled', signal: 'SIGNAME' }],
      [`runs past ${instance.timeoutSeconds} s`, { kind: 'timed-out', seconds: instance.timeoutSeconds }],
      ['cannot be started', { kind: 'start-failed', error: '' }],
    ]),
  ]
}

function runsAs(instance: Instance): string {
  const { account, uid, gid } = instance
  const group = gid === undefined ? '' : `, gid ${gid}`
  if (instance.runsAsRoot) return `root${group}: Haraka delivers as root and [${instance.name}] sets no user`
  if (uid === undefined) return `Haraka's user${account ? ` ${account.name}` : ''}${group}`
  return `${account?.name ?? 'a user without a passwd entry'} (uid ${uid}${group})`
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
