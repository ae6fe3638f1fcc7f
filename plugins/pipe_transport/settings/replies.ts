// Reply lines as the config writes them (`550 5.1.1 no such user`), and the exit-code presets.
// At the queue hook Haraka fixes the basic code by verdict (250, 450, 550), so a configured basic
// code only picks the verdict; queue/run-reply.ts maps how a run ended to one of these replies.
import { failure, ok, type Result } from '../util/result.js'
import type { ExitCodeTable, Reply, Verdict } from './vocabulary.js'

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
      ...[100, 64, 65, 70, 76, 77, 78, 112].map(
        (status) => [status, reply('deny', '5.3.0 permanent failure (exit status %d)')] as const,
      ),
    ]),
    otherwise: reply('denysoft', '4.3.0 temporary failure (exit status %d)'),
  },
} as const satisfies Record<string, ExitCodeTable>
export type PresetName = keyof typeof PRESETS

/**
 * Reads a configured reply line such as `550 5.1.1 no such user`. Fails when the line does not
 * start with a 2xx, 4xx or 5xx code, or when an enhanced status code disagrees with the basic
 * code's class (`550 4.3.0 ...` would tell the client two different things).
 */
export function parseReplyLine(line: string): Result<Reply> {
  const match = /^([245])\d\d(?:[ \t]+(.*))?$/.exec(line.trim())
  const klass = match?.[1]
  if (!match || klass === undefined) {
    return failure(`"${line}" must start with a 2xx, 4xx or 5xx reply code, as in "550 5.1.1 no such user"`)
  }
  const text = (match[2] ?? '').trim()
  const enhanced = /^([245])\.\d{1,3}\.\d{1,3}(?:\s|$)/.exec(text)
  if (enhanced && enhanced[1] !== klass) {
    return failure(`"${line}": enhanced status code ${text.split(/\s/)[0]} does not match reply code class ${klass}xx`)
  }
  if (/[\r\n]/.test(text)) return failure(`"${line}" must be one line`)
  return ok({ verdict: VERDICT_BY_CLASS[klass] ?? 'deny', text })
}
