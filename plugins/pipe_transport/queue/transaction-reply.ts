// The one reply to a transaction whose recipients took several runs (or none, when the journal had
// them delivered already). SMTP gives the whole message one answer after the final dot, so:
//
//   | the recipients not delivered before                 | the reply                      |
//   |-----------------------------------------------------|--------------------------------|
//   | none left: every run succeeded, or there was none   | 250                            |
//   | any of them failed temporarily                      | 450: the sender retries, and   |
//   |   (a timeout, a signal, a start failure, a 4xx map) |   only those not delivered run |
//   | all of them failed permanently                      | 550                            |
//
// A failure names the failed recipients (how many, and which, cut to fit one reply line) when the
// transaction had more than one; a transaction of one recipient keeps its run's reply as it is.
//
// With `partial_failure = bounce`, a transaction that is partly delivered and otherwise failed for
// good is answered 250 instead, and a DSN tells the sender about the failed ones (sender-notice.ts).
import type { Recipient } from '../routing/recipient.js'
import type { Reply } from '../settings/vocabulary.js'

/** Recipients that are settled one way: by one run's reply, or without a run. */
export interface Settled {
  readonly recipients: readonly Recipient[]
  readonly reply: Reply
}

/** What fits in one SMTP reply line with Haraka's code and " (queue id)" around it (RFC 5321: 512). */
export const REPLY_TEXT_MAX = 400

export function transactionReply(settled: readonly Settled[]): Reply {
  const total = settled.reduce((sum, each) => sum + each.recipients.length, 0)
  const failed = settled.filter((each) => each.reply.verdict !== 'ok')
  if (failed.length === 0) {
    const texts = new Set(settled.map((each) => each.reply.text))
    const [only] = texts
    return {
      verdict: 'ok',
      text: texts.size === 1 && only !== undefined ? only : `2.0.0 delivered to ${total} recipients`,
    }
  }
  const temporary = failed.find((each) => each.reply.verdict === 'denysoft')
  const first = (temporary ?? failed[0]) as Settled
  const verdict = temporary ? 'denysoft' : 'deny'
  const base =
    first.reply.text !== ''
      ? first.reply.text
      : verdict === 'denysoft'
        ? '4.3.0 delivery failed'
        : '5.3.0 delivery failed'
  if (total <= 1) return { verdict, text: base }
  const addresses = failed.flatMap((each) => each.recipients.map((recipient) => recipient.address))
  return { verdict, text: withRecipients(base, addresses, total) }
}

/**
 * Some recipients delivered (by now or before) and every other failed permanently: the case in
 * which SMTP's one reply cannot tell the truth, and partial_failure decides. The permanent failures
 * then, else undefined.
 */
export function partialPermanentFailure(settled: readonly Settled[]): Settled[] | undefined {
  const delivered = settled.some((each) => each.reply.verdict === 'ok')
  const failed = settled.filter((each) => each.reply.verdict !== 'ok')
  if (!delivered || failed.length === 0 || failed.some((each) => each.reply.verdict === 'denysoft')) return undefined
  return failed
}

/**
 * The 250 of a partial failure that the sender learns of otherwise:
 * `2.0.0 delivered to 2 of 3 recipients; a DSN reports the failure for b@y`.
 */
export function partlyDeliveredReply(settled: readonly Settled[], notice: string): Reply {
  const total = settled.reduce((sum, each) => sum + each.recipients.length, 0)
  const failed = settled
    .filter((each) => each.reply.verdict !== 'ok')
    .flatMap((each) => each.recipients.map((recipient) => recipient.address))
  const head = `2.0.0 delivered to ${total - failed.length} of ${total} recipients; ${notice} `
  return { verdict: 'ok', text: `${head}${listed(head, failed, '')}`.slice(0, REPLY_TEXT_MAX) }
}

/** `TEXT (2 of 3 recipients not delivered: a@x, b@y)`, the list cut short to fit. */
function withRecipients(base: string, addresses: readonly string[], total: number): string {
  const head = `${base} (${addresses.length} of ${total} recipients not delivered: `
  return `${head}${listed(head, addresses, ')')}`.slice(0, REPLY_TEXT_MAX)
}

/** `a@x, b@y` after `head`, with `and N more` where the whole would not fit one reply line. */
function listed(head: string, addresses: readonly string[], close: string): string {
  let listed = ''
  for (const [index, address] of addresses.entries()) {
    const more = addresses.length - index - 1
    const next = `${listed}${index === 0 ? '' : ', '}${address}`
    const tail = more > 0 ? ` and ${more} more` : ''
    if (`${head + next + tail}${close}`.length > REPLY_TEXT_MAX && index > 0)
      return `${listed} and ${addresses.length - index} more${close}`
    listed = next
  }
  return `${listed}${close}`
}
