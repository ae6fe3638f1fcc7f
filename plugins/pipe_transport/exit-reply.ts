// Turns how a delivery ended into the SMTP answer, through one table per instance.
// At the queue hook Haraka fixes the basic code by verdict (250, 450, 550), so a reply is a verdict
// plus the text that follows the code; the configured basic code only picks the verdict.

export type Verdict = 'ok' | 'denysoft' | 'deny'

/** A reply the plugin gives. Empty text lets Haraka use its own ("Message Queued"). */
export interface Reply {
  readonly verdict: Verdict
  readonly text: string
}

/** How a delivery attempt ended, as seen by the plugin. */
export type Outcome =
  | { readonly kind: 'exited'; readonly status: number }
  | { readonly kind: 'signaled'; readonly signal: string }
  | { readonly kind: 'timed-out'; readonly seconds: number }
  | { readonly kind: 'start-failed'; readonly cause: string }
  | { readonly kind: 'no-slot'; readonly seconds: number }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'refused'; readonly reason: string }

/** The exit-status table: explicit entries, then the answer for any other non-zero status. */
export interface ExitCodeTable {
  /** Values may hold `%d`, replaced by the exit status. */
  readonly entries: ReadonlyMap<number, Reply>
  readonly otherwise: Reply
}

const VERDICT_BY_CLASS: Readonly<Record<string, Verdict>> = { '2': 'ok', '4': 'denysoft', '5': 'deny' }

/** The seed module's answer for an unmapped non-zero status. */
export const SEED_OTHERWISE: Reply = { verdict: 'deny', text: '5.5.0 pipe transport gave exit status %d' }

/**
 * Reads a configured reply line such as `550 5.1.1 no such user`. Returns an error message when the
 * line does not start with a 2xx, 4xx or 5xx code, or when an enhanced status code disagrees
 * with the basic code's class (`550 4.3.0 ...` would tell the client two different things).
 */
export function parseReplyLine(line: string): Reply | { readonly error: string } {
  const match = /^([245])\d\d(?:[ \t]+(.*))?$/.exec(line.trim())
  const klass = match?.[1]
  if (!match || klass === undefined) {
    return { error: `"${line}" must start with a 2xx, 4xx or 5xx reply code, as in "550 5.1.1 no such user"` }
  }
  const text = (match[2] ?? '').trim()
  const enhanced = /^([245])\.\d{1,3}\.\d{1,3}(?:\s|$)/.exec(text)
  if (enhanced && enhanced[1] !== klass) {
    return { error: `"${line}": enhanced status code ${text.split(/\s/)[0]} does not match reply code class ${klass}xx` }
  }
  if (/[\r\n]/.test(text)) return { error: `"${line}" must be one line` }
  return { verdict: VERDICT_BY_CLASS[klass] ?? 'deny', text }
}

/** The reply for how a delivery ended. */
export function replyFor(outcome: Outcome, table: ExitCodeTable): Reply {
  switch (outcome.kind) {
    case 'exited': {
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
    case 'refused':
      return { verdict: 'deny', text: '5.1.3 pipe transport refuses an address that would start a program argument with "-"' }
  }
}

function withStatus(reply: Reply, status: number): Reply {
  return { verdict: reply.verdict, text: reply.text.replaceAll('%d', String(status)) }
}
