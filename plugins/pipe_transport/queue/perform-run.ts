// One run of a transaction, from its plan to its reply: the loop check, argv and environment,
// the instance's circuit breaker, a slot within max_concurrency, the program's run, and how it
// ended mapped to a reply; each run counted in the metrics.
import { enterCircuit, type RunHealth } from '../circuit/circuit-breaker.js'
import type { Envelope } from '../invocation/envelope.js'
import { alreadyDeliveredTo } from '../invocation/message-shape.js'
import type { ProgramInput } from '../invocation/program-input.js'
import { programSpec, type ProgramSpec } from '../invocation/program-spec.js'
import { countCircuitRejections, countRun } from '../metrics/delivery-metrics.js'
import { KILL_GRACE_MS } from '../running/process-groups.js'
import type { ProgramResult } from '../running/run-outcome.js'
import { STDIO_LINGER_MS, runProgram } from '../running/run-program.js'
import { slotsFor } from '../running/slots.js'
import { MAX_TIMEOUT_SECONDS } from '../settings/instance.js'
import type { Instance, Reply } from '../settings/vocabulary.js'
import { within } from '../util/within.js'
import { endedClass, replyFor, type DeliveryOutcome } from './run-reply.js'

/**
 * A run ends by its timeout plus the kill grace and the stdio linger at the latest. One that has
 * not ended well after that is a bug in the plugin; the message then gets a 4xx, not silence.
 */
const WATCHDOG_SLACK_MS = KILL_GRACE_MS + STDIO_LINGER_MS + 5000

/** The longest a delivery may take: a slot wait and a run, each up to the largest timeout, and the kill grace. */
export const LONGEST_DELIVERY_SECONDS = 2 * MAX_TIMEOUT_SECONDS + KILL_GRACE_MS / 1000

export interface RunReport {
  readonly reply: Reply
  readonly outcome: DeliveryOutcome
  readonly bytes: number
  readonly durationMs: number
}

export async function performRun(instance: Instance, envelope: Envelope, input: ProgramInput): Promise<RunReport> {
  const started = Date.now()
  const report = (outcome: DeliveryOutcome, bytes = 0): RunReport => ({
    reply: replyFor(outcome, instance.exitCodes),
    outcome,
    bytes,
    durationMs: Date.now() - started,
  })

  const looped = instance.shape.deliveredTo
    ? envelope.recipients.find((rcpt) => alreadyDeliveredTo(envelope.deliveredToHeaders, rcpt))
    : undefined
  if (looped) return counted(instance, report({ kind: 'looped', address: looped.headerAddress }))
  const spec = programSpec(instance, envelope, 'delivery')
  if (!spec.ok) return counted(instance, report({ kind: 'refused', error: spec.error }))

  // A run's recipients share their route data (plan-runs.ts).
  const pass = enterCircuit(instance, envelope.recipients[0]?.routeData ?? '')
  if (!pass) {
    countCircuitRejections(instance.name, 'queue', envelope.recipients.length)
    return counted(instance, report({ kind: 'circuit-open' }))
  }
  let ran: RunReport | undefined
  try {
    ran = await runInSlot(instance, spec.value, input, report)
    return ran
  } finally {
    pass.settle(ran ? healthOf(ran) : 'neutral')
  }
}

/** Waits for a slot, runs the program, and counts the run with its slot wait and run time. */
async function runInSlot(
  instance: Instance,
  spec: ProgramSpec,
  input: ProgramInput,
  report: (outcome: DeliveryOutcome, bytes?: number) => RunReport,
): Promise<RunReport> {
  const waitFrom = performance.now()
  const slots = slotsFor(instance.name, instance.maxConcurrency)
  const gotSlot = await slots.acquire(instance.timeoutSeconds * 1000)
  const runFrom = performance.now()
  const waitSeconds = (runFrom - waitFrom) / 1000
  if (!gotSlot) return counted(instance, report({ kind: 'no-slot', seconds: instance.timeoutSeconds }), waitSeconds)
  try {
    const watchdog = instance.timeoutSeconds * 1000 + WATCHDOG_SLACK_MS
    const overdue = {
      outcome: { kind: 'internal-error', error: `no outcome after ${watchdog} ms` },
      bytesWritten: 0,
    } as const
    const run: ProgramResult | typeof overdue = await within(runProgram(spec, input), watchdog, overdue)
    const runSeconds = (performance.now() - runFrom) / 1000
    return counted(instance, report(run.outcome, run.bytesWritten), waitSeconds, runSeconds)
  } finally {
    slots.release()
  }
}

function counted(instance: Instance, report: RunReport, waitSeconds?: number, runSeconds?: number): RunReport {
  countRun(instance.name, report.reply.verdict, endedClass(report.outcome), waitSeconds, runSeconds)
  return report
}

/**
 * What a run says of the instance's back end, for its circuit breaker: a temporary failure (a
 * timeout, a program that cannot start, a crash, a 4xx exit) counts against it; a verdict the
 * program gave, delivered or refused for good, counts for it.
 */
function healthOf({ outcome, reply }: RunReport): RunHealth {
  switch (outcome.kind) {
    case 'timed-out':
    case 'start-failed':
    case 'signaled':
      return 'failed'
    case 'exited':
      return reply.verdict === 'denysoft' ? 'failed' : 'answered'
    default:
      return 'neutral'
  }
}
