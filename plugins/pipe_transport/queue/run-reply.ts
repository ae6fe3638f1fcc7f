// How one run of a transaction ended, and the reply that makes, through the instance's exit-code
// table (settings/replies.ts). Postfix pipe(8)'s convention is kept: a failing program whose first
// stderr line starts with an enhanced status code chooses the reply itself (status_from_stderr).
// With reply_text = stderr or stdout, a failing program's own words (its first stderr line, or its
// last stdout line, as chasquid takes it) are the text after the code the map gives.
import type { ProgramWords, RunOutcome } from '../running/run-outcome.js'
import type { Instance, Reply } from '../settings/vocabulary.js'

/** The runner's outcomes, and what ends a run before or around its program. */
export type DeliveryOutcome =
  | RunOutcome
  | { readonly kind: 'no-slot'; readonly seconds: number }
  /** An address would have become a program option (invocation/arguments.ts). */
  | { readonly kind: 'refused'; readonly error: string }
  /** delivered_to's loop check: the message already carries Delivered-To: for this recipient. */
  | { readonly kind: 'looped'; readonly address: string }
  | { readonly kind: 'internal-error'; readonly error: string }
  /** The instance's circuit breaker is open (circuit/): deferred without running the program. */
  | { readonly kind: 'circuit-open' }

/** A fault inside the plugin: deferred, so the sender retries; the log says what it was. */
export const INTERNAL_ERROR: Reply = { verdict: 'denysoft', text: '4.3.0 pipe transport internal error' }

/** What a transaction past RCPT gets while its instance's circuit is open. */
export const CIRCUIT_OPEN: Reply = {
  verdict: 'denysoft',
  text: '4.3.0 pipe transport delivery temporarily unavailable, try again later',
}

/** How a run ended, as a class the metrics can label it with: `exit`, `signal`, or the outcome's kind. */
export function endedClass(outcome: DeliveryOutcome): string {
  return outcome.kind === 'exited' ? 'exit' : outcome.kind === 'signaled' ? 'signal' : outcome.kind
}

/** What of an instance decides its replies. */
export type ReplyPolicy = Pick<Instance, 'exitCodes' | 'statusFromStderr' | 'replyText'>

export function replyFor(outcome: DeliveryOutcome, policy: ReplyPolicy, said?: ProgramWords): Reply {
  switch (outcome.kind) {
    case 'exited': {
      const { status } = outcome
      const spoken = status !== 0 && policy.statusFromStderr ? replyFromStderr(said?.stderrLine) : undefined
      if (spoken) return spoken
      const table = policy.exitCodes
      const entry = table.entries.get(status) ?? (status === 0 ? { verdict: 'ok', text: '' } : table.otherwise)
      const mapped = withStatus(entry, status)
      if (mapped.verdict === 'ok' || policy.replyText === 'map') return mapped
      return inProgramWords(mapped, policy.replyText === 'stderr' ? said?.stderrLine : said?.stdoutLine)
    }
    case 'signaled':
      return { verdict: 'denysoft', text: `4.3.0 pipe transport program was killed by signal ${outcome.signal}` }
    case 'timed-out':
      return { verdict: 'denysoft', text: `4.3.0 pipe transport program timed out after ${outcome.seconds}s` }
    case 'start-failed':
      // The cause goes to Haraka's log, not to a stranger on the internet.
      return { verdict: 'denysoft', text: '4.3.0 pipe transport program could not be started' }
    case 'no-slot':
      return { verdict: 'denysoft', text: `4.3.2 pipe transport busy: no delivery slot within ${outcome.seconds}s` }
    case 'shutdown':
      return { verdict: 'denysoft', text: '4.3.0 pipe transport shutting down, try again later' }
    case 'internal-error':
      return INTERNAL_ERROR
    case 'circuit-open':
      return CIRCUIT_OPEN
    case 'refused':
      return {
        verdict: 'deny',
        text: '5.1.3 pipe transport refuses an address that would start a program argument with "-"',
      }
    case 'looped':
      // Postfix's words for its flag D, so that a bounce reads the same whoever found the loop.
      return { verdict: 'deny', text: `5.4.6 mail forwarding loop for ${outcome.address}` }
  }
}

/** The most of a program's line that may reach the client. */
export const PROGRAM_WORDS_MAX = 200

/** An enhanced status code at the start of a line: its class, and the code with what follows it. */
const ENHANCED_CODE = /^([245])\.\d{1,3}\.\d{1,3}(?![\d.])\s*/

/**
 * A line comes from a program, so it is reduced to printable ASCII and a bounded length before a
 * stranger sees it.
 */
function sanitised(line: string): string {
  return line
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, PROGRAM_WORDS_MAX)
    .trim()
}

function replyFromStderr(line: string | undefined): Reply | undefined {
  const klass = line === undefined ? undefined : ENHANCED_CODE.exec(line)?.[1]
  if (line === undefined || (klass !== '4' && klass !== '5')) return undefined
  return { verdict: klass === '4' ? 'denysoft' : 'deny', text: sanitised(line) }
}

/**
 * The mapped reply with the program's words for its text. The map's code (and its enhanced code)
 * stand; a line that starts with an enhanced code of the same class keeps it, one of the other
 * class loses it, so that the reply never says two things.
 */
function inProgramWords(mapped: Reply, line: string | undefined): Reply {
  const words = line === undefined ? '' : sanitised(line)
  if (words === '') return mapped
  const own = ENHANCED_CODE.exec(words)
  if (own?.[1] === (mapped.verdict === 'deny' ? '5' : '4')) return { verdict: mapped.verdict, text: words }
  const rest = own ? words.slice(own[0].length) : words
  const code = ENHANCED_CODE.exec(mapped.text)?.[0].trim()
  return { verdict: mapped.verdict, text: code === undefined ? rest : `${code} ${rest}`.trimEnd() }
}

function withStatus(reply: Reply, status: number): Reply {
  return { verdict: reply.verdict, text: reply.text.replaceAll('%d', String(status)) }
}
