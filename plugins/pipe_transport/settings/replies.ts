// Turns how a delivery ended into the SMTP answer, through one table per instance.
// At the queue hook Haraka fixes the basic code by verdict (250, 450, 550), so a reply is a verdict
// plus the text that follows the code; the configured basic code only picks the verdict.

export type Verdict = 'ok' | 'denysoft' | 'deny'

/** A reply the plugin gives. Empty text lets Haraka use its own ("Message Queued"). */
export interface Reply {
  readonly verdict: Verdict
  readonly text: string
}

/** What Haraka sends at the queue hook for a verdict: its basic code, and its text for a reply with none. */
export const HARAKA_REPLY = {
  ok: { code: 250, text: 'Message Queued' },
  denysoft: { code: 450, text: 'Message denied temporarily' },
  deny: { code: 550, text: 'Message denied' },
} as const satisfies Record<Verdict, { code: number; text: string }>

/** The reply line the client gets, but for the transaction id that Haraka appends. */
export function replyLine(reply: Reply): string {
  const haraka = HARAKA_REPLY[reply.verdict]
  return `${haraka.code} ${reply.text || haraka.text}`
}

/** How a delivery attempt ended, as seen by the plugin. */
export type Outcome =
  /** `stderrLine`: the program's first stderr line, when `status_from_stderr` asked for it. */
  | { readonly kind: 'exited'; readonly status: number; readonly stderrLine?: string | undefined }
  | { readonly kind: 'signaled'; readonly signal: string }
  | { readonly kind: 'timed-out'; readonly seconds: number }
  | { readonly kind: 'start-failed'; readonly cause: string }
  | { readonly kind: 'no-slot'; readonly seconds: number }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'refused'; readonly reason: string }
  /** delivered_to's loop check: the message already carries Delivered-To: for this recipient. */
  | { readonly kind: 'looped'; readonly address: string }
  | { readonly kind: 'internal-error'; readonly cause: string }

/** The exit-status table: explicit entries, then the answer for any other non-zero status. */
export interface ExitCodeTable {
  /** Values may hold `%d`, replaced by the exit status. */
  readonly entries: ReadonlyMap<number, Reply>
  readonly otherwise: Reply
}

const VERDICT_BY_CLASS: Readonly<Record<string, Verdict>> = { '2': 'ok', '4': 'denysoft', '5': 'deny' }

/** The seed module's answer for an unmapped non-zero status. */
export const SEED_OTHERWISE: Reply = { verdict: 'deny', text: '5.5.0 pipe transport gave exit status %d' }

const reply = (verdict: Verdict, text: string): Reply => ({ verdict, text })

/**
 * The conventions real delivery programs speak (`code_preset`). sysexits.h is what dovecot-lda,
 * procmail and maildrop use; qmail-command and qmail-queue programs use 100 (hard) and 111 (soft).
 */
export const PRESETS = {
  seed: { entries: new Map(), otherwise: SEED_OTHERWISE },
  sysexits: {
    entries: new Map([
      [75, reply('denysoft', '4.3.0 temporary failure (EX_TEMPFAIL, exit status %d)')],
      [71, reply('denysoft', '4.3.0 system error (EX_OSERR, exit status %d)')],
      [74, reply('denysoft', '4.3.0 input/output error (EX_IOERR, exit status %d)')],
      [78, reply('denysoft', '4.3.5 configuration error (EX_CONFIG, exit status %d)')],
      [67, reply('deny', '5.1.1 no such user (EX_NOUSER, exit status %d)')],
      [68, reply('deny', '5.1.2 no such host (EX_NOHOST, exit status %d)')],
      [65, reply('deny', '5.6.0 data format error (EX_DATAERR, exit status %d)')],
      [77, reply('deny', '5.7.0 permission denied (EX_NOPERM, exit status %d)')],
    ]),
    otherwise: reply('deny', '5.3.0 delivery failed (exit status %d)'),
  },
  qmail: {
    entries: new Map([
      [99, reply('ok', '')],
      ...[100, 64, 65, 70, 76, 77, 78, 112].map((status) => [status, reply('deny', '5.3.0 permanent failure (exit status %d)')] as const),
    ]),
    otherwise: reply('denysoft', '4.3.0 temporary failure (exit status %d)'),
  },
} as const satisfies Record<string, ExitCodeTable>
export type PresetName = keyof typeof PRESETS

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
      return { verdict: 'denysoft', text: '4.3.0 pipe transport internal error' }
    case 'refused':
      return { verdict: 'deny', text: '5.1.3 pipe transport refuses an address that would start a program argument with "-"' }
    case 'looped':
      // Postfix's words for its flag D, so that a bounce reads the same whoever found the loop.
      return { verdict: 'deny', text: `5.4.6 mail forwarding loop for ${outcome.address}` }
  }
}

/** The most of a program's stderr line that may reach the client. */
export const STDERR_REPLY_MAX = 200

/**
 * Postfix pipe(8)'s convention: a failing program whose first stderr line starts with an
 * enhanced status code (RFC 3463) chooses the reply itself. The line comes from a program, so it
 * is reduced to printable ASCII and a bounded length before a stranger sees it.
 */
function replyFromStderr(line: string | undefined): Reply | undefined {
  const klass = line === undefined ? undefined : /^([45])\.\d{1,3}\.\d{1,3}(?![\d.])/.exec(line)?.[1]
  if (line === undefined || klass === undefined) return undefined
  const text = line.replace(/[^\x20-\x7e]/g, '?').slice(0, STDERR_REPLY_MAX).trimEnd()
  return { verdict: klass === '4' ? 'denysoft' : 'deny', text }
}

function withStatus(reply: Reply, status: number): Reply {
  return { verdict: reply.verdict, text: reply.text.replaceAll('%d', String(status)) }
}
