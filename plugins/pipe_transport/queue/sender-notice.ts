// With `partial_failure = bounce`, a message delivered to some recipients whose others failed for
// good is accepted (250), and the envelope sender learns of the failed ones the way every queueing
// MTA tells it: a DSN (dsn-message.ts), queued in Haraka's outbound, which retries it. None goes to
// the null sender (a DSN about a DSN would loop), nor for a recipient whose NOTIFY left FAILURE out.
import type { MailParameters, RcptParameters } from '../invocation/dsn-parameters.js'
import type { Recipient } from '../routing/recipient.js'
import type { Reply } from '../settings/vocabulary.js'
import { messageOf } from '../util/error-message.js'
import type { Result } from '../util/result.js'
import { dsnMessage, type DsnInput, type FailedRecipient } from './dsn-message.js'

/** Queues a message from the null sender to `to` in Haraka's outbound (the entry wires it). */
export type DsnSender = (to: string, message: string) => Promise<Result<void>>

/** What the DSN needs of the transaction, gathered when its delivery begins. */
export interface NoticeContext {
  /** The envelope sender as a header writes it; empty for the null sender. */
  readonly sender: string
  readonly mail: MailParameters
  readonly rcptParameters: (recipient: Recipient) => RcptParameters
  /** This host's name (Haraka's `me`), asked only when a DSN is built. */
  readonly reportingMta: () => string
  readonly queueId: string
  readonly arrivalDate: Date
  readonly headerLines: readonly string[]
  readonly messageId: string
  /** The whole message with CRLF line ends (for RET=FULL); undefined when it is too large to return. */
  readonly fullMessage: () => Promise<Buffer | undefined>
  readonly send: DsnSender
}

export type NoticeOutcome =
  /** Queued in Haraka's outbound, reporting these recipients. */
  | { readonly kind: 'sent'; readonly reported: readonly Recipient[] }
  /** Nobody is to be told: the null sender, or NOTIFY without FAILURE for every failed recipient. */
  | { readonly kind: 'not-asked'; readonly why: string }
  /** It could not be built or queued: the transaction is answered as with `partial_failure = reject`. */
  | { readonly kind: 'failed'; readonly error: string }

/**
 * Postfix's bounce_size_limit default: a larger message comes back as its headers only, though
 * RET=FULL asked for all of it.
 */
export const FULL_RETURN_MAX_BYTES = 50_000

export async function noticeToSender(
  context: NoticeContext,
  failed: readonly { readonly recipient: Recipient; readonly reply: Reply }[],
  delivered: number,
): Promise<NoticeOutcome> {
  if (context.sender === '') return { kind: 'not-asked', why: 'no DSN to the null sender' }
  const reported: FailedRecipient[] = failed
    .map(({ recipient, reply }) => ({ recipient, reply, parameters: context.rcptParameters(recipient) }))
    .filter(({ parameters }) => parameters.notify?.has('FAILURE') ?? true)
    .map(({ recipient, reply, parameters }) => ({ recipient, reply, orcpt: parameters.orcpt }))
  if (reported.length === 0) return { kind: 'not-asked', why: 'NOTIFY asked for no DSN on failure' }
  try {
    const input: DsnInput = {
      reportingMta: context.reportingMta(),
      sender: context.sender,
      queueId: context.queueId,
      arrivalDate: context.arrivalDate,
      envid: context.mail.envid,
      failed: reported,
      delivered,
      headerLines: context.headerLines,
      fullMessage: context.mail.ret === 'FULL' ? await context.fullMessage() : undefined,
      messageId: context.messageId,
    }
    const message = asText(await dsnMessage(input)) ?? asText(await dsnMessage({ ...input, fullMessage: undefined }))
    if (message === undefined) return { kind: 'failed', error: 'the DSN is not valid UTF-8' }
    const queued = await context.send(context.sender, message)
    if (!queued.ok) return { kind: 'failed', error: `Haraka's outbound did not queue the DSN: ${queued.error}` }
    return { kind: 'sent', reported: reported.map(({ recipient }) => recipient) }
  } catch (err) {
    return { kind: 'failed', error: `cannot build the DSN: ${messageOf(err)}` }
  }
}

/**
 * Haraka's outbound takes a message as a string and stores it UTF-8 encoded, so only a DSN that is
 * valid UTF-8 arrives unchanged: a returned message in another 8-bit charset comes back as its
 * headers only.
 */
function asText(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}
