// One run of a transaction, from its plan to its reply: the loop check, argv and environment,
// a slot within max_concurrency, the program's run, and how it ended mapped to a reply.
import type { Envelope } from '../invocation/envelope.js'
import { alreadyDeliveredTo } from '../invocation/message-shape.js'
import type { ProgramInput } from '../invocation/program-input.js'
import { programSpec } from '../invocation/program-spec.js'
import { KILL_GRACE_MS } from '../running/process-groups.js'
import type { ProgramResult, ProgramWords } from '../running/run-outcome.js'
import { STDIO_LINGER_MS, runProgram } from '../running/run-program.js'
import { slotsFor } from '../running/slots.js'
import { MAX_TIMEOUT_SECONDS } from '../settings/instance.js'
import type { Instance, Reply } from '../settings/vocabulary.js'
import { within } from '../util/within.js'
import { replyFor, type DeliveryOutcome } from './run-reply.js'

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
  /** What the program said, where it was captured: its first stderr line for the log of a failure. */
  readonly said: ProgramWords | undefined
  readonly bytes: number
  readonly durationMs: number
}

export async function performRun(instance: Instance, envelope: Envelope, input: ProgramInput): Promise<RunReport> {
  const started = Date.now()
  const report = (outcome: DeliveryOutcome, bytes = 0, said?: ProgramWords): RunReport => ({
    reply: replyFor(outcome, instance, said),
    outcome,
    said,
    bytes,
    durationMs: Date.now() - started,
  })

  const looped = instance.shape.deliveredTo
    ? envelope.recipients.find((rcpt) => alreadyDeliveredTo(envelope.deliveredToHeaders, rcpt))
    : undefined
  if (looped) return report({ kind: 'looped', address: looped.headerAddress })
  const spec = programSpec(instance, envelope, 'delivery')
  if (!spec.ok) return report({ kind: 'refused', error: spec.error })

  const slots = slotsFor(instance.name, instance.maxConcurrency)
  if (!(await slots.acquire(instance.timeoutSeconds * 1000))) {
    return report({ kind: 'no-slot', seconds: instance.timeoutSeconds })
  }
  try {
    const watchdog = instance.timeoutSeconds * 1000 + WATCHDOG_SLACK_MS
    const overdue = {
      outcome: { kind: 'internal-error', error: `no outcome after ${watchdog} ms` },
      bytesWritten: 0,
    } as const
    const run: ProgramResult | typeof overdue = await within(runProgram(spec.value, input), watchdog, overdue)
    return report(run.outcome, run.bytesWritten, 'said' in run ? run.said : undefined)
  } finally {
    slots.release()
  }
}
