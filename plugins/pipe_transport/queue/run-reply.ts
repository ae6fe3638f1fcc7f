// How one run of a transaction ended, and the reply that makes, through the instance's exit-code
// table (settings/replies.ts). Postfix pipe(8)'s convention is kept: a failing program whose first
// stderr line starts with an enhanced status code chooses the reply text itself.
import type { RunOutcome } from '../running/run-outcome.js'
import type { ExitCodeTable, Reply } from '../settings/vocabulary.js'

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

export function replyFor(outcome: DeliveryOutcome, table: ExitCodeTable): Reply {
  switch (outcome.kind) {
    case 'exited': {
      const spoken = outcome.status === 0 ? undefined : replyFromStderr(outcome.stderrLine)
      if (spoken) return spoken
      const mapped = table.entries.get(outcome.status)
      if (mapped) return withStatus(mapped, outcome.status)
      if (outcome.status === 0) return { verdict: 'ok', text: '' }
      return withStatus(table.otherwise, outcome.status)
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

/** The most of a program's stderr line that may reach the client. */
export const STDERR_REPLY_MAX = 200

/**
 * The line comes from a program, so it is reduced to printable ASCII and a bounded length before a
 * stranger sees it.
 */
function replyFromStderr(line: string | undefined): Reply | undefined {
  const klass = line === undefined ? undefined : /^([45])\.\d{1,3}\.\d{1,3}(?![\d.])/.exec(line)?.[1]
  if (line === undefined || klass === undefined) return undefined
  const text = line
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, STDERR_REPLY_MAX)
    .trimEnd()
  return { verdict: klass === '4' ? 'denysoft' : 'deny', text }
}

function withStatus(reply: Reply, status: number): Reply {
  return { verdict: reply.verdict, text: reply.text.replaceAll('%d', String(status)) }
}
