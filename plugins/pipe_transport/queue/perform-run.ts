// One delivery from start to reply: expand the arguments, build the environment, wait for a
// slot, run the program, and map how it ended to the SMTP reply.
import { invocationFor } from '../tools/dry-run-plan.js'
import type { Envelope } from '../invocation/envelope.js'
import { alreadyDeliveredTo } from '../invocation/message-shape.js'
import { replyFor, type Outcome, type Reply } from '../settings/replies.js'
import { KILL_GRACE_MS } from '../running/process-groups.js'
import { STDIO_LINGER_MS, runProgram, type ProgramInput, type RunResult } from '../running/run-program.js'
import type { Instance } from '../settings/settings.js'
import { slotsFor } from '../running/slots.js'
import { within } from '../util/within.js'

/**
 * A run ends by its timeout plus the kill grace and the stdio linger at the latest. One that has
 * not ended well after that is a bug in the plugin; the message then gets a 4xx, not silence.
 */
const WATCHDOG_SLACK_MS = KILL_GRACE_MS + STDIO_LINGER_MS + 5000

export interface DeliveryReport {
  readonly reply: Reply
  readonly outcome: Outcome
  readonly bytes: number
  readonly durationMs: number
}

export async function deliver(instance: Instance, envelope: Envelope, input: ProgramInput): Promise<DeliveryReport> {
  const started = Date.now()
  const report = (outcome: Outcome, bytes = 0): DeliveryReport => ({
    reply: replyFor(outcome, instance.exitCodes),
    outcome,
    bytes,
    durationMs: Date.now() - started,
  })

  const looped = instance.shape.deliveredTo ? envelope.recipients.find((rcpt) => alreadyDeliveredTo(envelope.deliveredToHeaders, rcpt)) : undefined
  if (looped) return report({ kind: 'looped', address: looped.headerAddress })
  const invocation = invocationFor(instance, envelope)
  if ('refused' in invocation) return report({ kind: 'refused', reason: invocation.refused })

  const slots = slotsFor(instance.name, instance.maxConcurrency)
  if (!(await slots.acquire(instance.timeoutSeconds * 1000))) {
    return report({ kind: 'no-slot', seconds: instance.timeoutSeconds })
  }
  try {
    const watchdog = instance.timeoutSeconds * 1000 + WATCHDOG_SLACK_MS
    const overdue: RunResult = { outcome: { kind: 'internal-error', cause: `no outcome after ${watchdog} ms` }, bytesWritten: 0 }
    const running = runProgram(
      {
        program: instance.program,
        argv: invocation.argv,
        env: invocation.env,
        directory: instance.directory,
        uid: instance.uid,
        gid: instance.gid,
        outputFile: instance.outputFile,
        errorFile: instance.errorFile,
        timeoutSeconds: instance.timeoutSeconds,
        captureStderrLine: instance.statusFromStderr,
      },
      input,
    )
    const run = await within(running, watchdog, overdue)
    return report(run.outcome, run.bytesWritten)
  } finally {
    slots.release()
  }
}
