// check_program: whether a routed recipient exists, asked at RCPT, before any data is taken, so
// that a mistyped local user is refused at once rather than failing a whole transaction after
// DATA. The program gets the recipient's macros and environment, no input, and a short timeout.
// Exit 0 accepts; 67 (EX_NOUSER), or a status the instance's table maps to 5xx, refuses with
// 550 5.1.1; anything else (a 4xx, a timeout, a crash, a program that cannot start) is 450, so a
// broken check never refuses mail for good. Answers are kept for check_cache seconds (4xx never).
import { invocationFor } from '../tools/dry-run-plan.js'
import type { Envelope, Recipient } from '../invocation/envelope.js'
import type { Outcome } from '../settings/replies.js'
import { NO_INPUT, runProgram } from '../running/run-program.js'
import type { Instance, RecipientCheck } from '../settings/settings.js'
import type { RcptDecision } from '../routing/rcpt-policy.js'

const EX_NOUSER = 67
/** Answers kept at most, oldest dropped first: a dictionary attack must not grow Haraka. */
const CACHE_ENTRIES = 10_000

type Answer = 'exists' | 'unknown' | 'unsure'

interface Cached {
  readonly answer: Answer
  readonly until: number
}

const cache = new Map<string, Cached>()

export async function checkRecipient(
  instance: Instance,
  check: RecipientCheck,
  recipient: Recipient,
  envelope: Omit<Envelope, 'recipients'>,
): Promise<{ decision: RcptDecision; outcome: Outcome | 'cached' }> {
  const key = `${instance.name}\0${recipient.address.toLowerCase()}`
  const cached = cache.get(key)
  if (cached && cached.until > Date.now()) return { decision: decisionFor(cached.answer, recipient), outcome: 'cached' }

  const full: Envelope = { ...envelope, recipients: [recipient] }
  const invocation = invocationFor(instance, full, check.arguments)
  if ('refused' in invocation) return { decision: decisionFor('unknown', recipient), outcome: { kind: 'refused', reason: invocation.refused } }
  const { outcome } = await runProgram(
    {
      program: check.program,
      argv: invocation.argv,
      env: invocation.env,
      directory: instance.directory,
      uid: instance.uid,
      gid: instance.gid,
      outputFile: '/dev/null',
      errorFile: instance.errorFile,
      timeoutSeconds: check.timeoutSeconds,
      captureStderrLine: false,
    },
    NO_INPUT,
  )
  const answer = answerFor(outcome, instance)
  if (answer !== 'unsure' && check.cacheSeconds > 0) remember(key, { answer, until: Date.now() + check.cacheSeconds * 1000 })
  return { decision: decisionFor(answer, recipient), outcome }
}

function answerFor(outcome: Outcome, instance: Instance): Answer {
  if (outcome.kind !== 'exited') return 'unsure'
  if (outcome.status === 0) return 'exists'
  if (outcome.status === EX_NOUSER || instance.exitCodes.entries.get(outcome.status)?.verdict === 'deny') return 'unknown'
  return 'unsure'
}

function decisionFor(answer: Answer, recipient: Recipient): RcptDecision {
  if (answer === 'exists') return { kind: 'continue' }
  if (answer === 'unknown') return { kind: 'deny', code: 550, subject: 1, detail: 1, text: `${recipient.address}: no such recipient here` }
  return { kind: 'denysoft', code: 450, subject: 3, detail: 0, text: `${recipient.address}: cannot check this recipient now, try again later` }
}

function remember(key: string, entry: Cached): void {
  cache.delete(key)
  cache.set(key, entry)
  if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string)
}
