// check_program: whether a routed recipient exists, asked at RCPT, before any data is taken, so
// that a mistyped local user is refused at once rather than failing a whole transaction after
// DATA. The program gets the recipient's macros and environment, no input, and a short timeout.
// Exit 0 accepts; 67 (EX_NOUSER), or a status the instance's table maps to 5xx, refuses with
// 550 5.1.1; anything else (a 4xx, a timeout, a crash, a program that cannot start) is 450, so a
// broken check never refuses mail for good. Answers are kept for check_cache seconds (4xx never).
import type { Envelope } from '../invocation/envelope.js'
import { NO_INPUT } from '../invocation/program-input.js'
import { programSpec } from '../invocation/program-spec.js'
import { countCheck, type CheckAnswer } from '../metrics/delivery-metrics.js'
import type { RcptDecision } from '../routing/rcpt-policy.js'
import type { Recipient } from '../routing/recipient.js'
import type { RunOutcome } from '../running/run-outcome.js'
import { runProgram } from '../running/run-program.js'
import type { CheckProgram, Instance } from '../settings/vocabulary.js'

const EX_NOUSER = 67
/** Answers kept at most, oldest dropped first: a dictionary attack must not grow Haraka. */
const CACHE_ENTRIES = 10_000

interface Cached {
  readonly answer: CheckAnswer
  readonly until: number
}

/** How a check ended: its program's run, or an address that must not reach it. */
export type CheckOutcome = RunOutcome | { readonly kind: 'refused'; readonly error: string }

/** One check, as the log records it; `cached` when no program ran. */
export interface CheckReport {
  readonly instance: Instance
  readonly recipient: Recipient
  readonly decision: RcptDecision
  readonly outcome: CheckOutcome | 'cached'
}

const cache = new Map<string, Cached>()

export async function checkRecipient(
  instance: Instance,
  check: CheckProgram,
  recipient: Recipient,
  envelope: Omit<Envelope, 'recipients'>,
): Promise<CheckReport> {
  const key = `${instance.name}\0${recipient.address.toLowerCase()}`
  const cached = cache.get(key)
  if (cached && cached.until > Date.now()) {
    countCheck(instance.name, cached.answer, 'cache')
    return { instance, recipient, decision: decisionFor(cached.answer, recipient), outcome: 'cached' }
  }

  const spec = programSpec(instance, { ...envelope, recipients: [recipient] }, 'check')
  if (!spec.ok) {
    countCheck(instance.name, 'unknown', 'program')
    return {
      instance,
      recipient,
      decision: decisionFor('unknown', recipient),
      outcome: { kind: 'refused', error: spec.error },
    }
  }
  const { outcome } = await runProgram(spec.value, NO_INPUT)
  const answer = answerFor(outcome, instance)
  countCheck(instance.name, answer, 'program')
  if (answer !== 'unsure' && check.cacheSeconds > 0)
    remember(key, { answer, until: Date.now() + check.cacheSeconds * 1000 })
  return { instance, recipient, decision: decisionFor(answer, recipient), outcome }
}

function answerFor(outcome: RunOutcome, instance: Instance): CheckAnswer {
  if (outcome.kind !== 'exited') return 'unsure'
  if (outcome.status === 0) return 'exists'
  if (outcome.status === EX_NOUSER || instance.exitCodes.entries.get(outcome.status)?.verdict === 'deny')
    return 'unknown'
  return 'unsure'
}

function decisionFor(answer: CheckAnswer, recipient: Recipient): RcptDecision {
  if (answer === 'exists') return { kind: 'continue' }
  if (answer === 'unknown')
    return { kind: 'deny', code: 550, subject: 1, detail: 1, text: `${recipient.address}: no such recipient here` }
  return {
    kind: 'denysoft',
    code: 450,
    subject: 3,
    detail: 0,
    text: `${recipient.address}: cannot check this recipient now, try again later`,
  }
}

function remember(key: string, entry: Cached): void {
  cache.delete(key)
  cache.set(key, entry)
  if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string)
}
