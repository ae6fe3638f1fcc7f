// The delivery status notification (RFC 3464, in an RFC 6522 multipart/report) that tells the
// envelope sender which recipients of an accepted message failed for good: a human-readable part,
// the machine-readable message/delivery-status part with one block per failed recipient, and the
// message's headers, or the whole message when the client asked RET=FULL. nodemailer's MimeNode
// builds the MIME structure (boundaries, header encoding, transfer encodings of the text parts);
// the delivery-status fields are RFC 3464's own lines, which MimeNode leaves as they are.
import MimeNode from 'nodemailer/lib/mime-node'
import type { Recipient } from '../routing/recipient.js'
import { HARAKA_REPLY } from '../settings/replies.js'
import type { Reply } from '../settings/vocabulary.js'

/** A recipient that failed for good, with its run's reply. */
export interface FailedRecipient {
  readonly recipient: Recipient
  readonly reply: Reply
  /** ORCPT, when the client gave one: the original recipient as the first sender wrote it. */
  readonly orcpt: { readonly type: string; readonly address: string } | undefined
}

export interface DsnInput {
  /** This host's name (Haraka's `me`), the Reporting-MTA. */
  readonly reportingMta: string
  /** The envelope sender as a header writes it: the DSN's recipient. */
  readonly sender: string
  readonly queueId: string
  readonly arrivalDate: Date
  /** ENVID, decoded; empty when the client gave none. */
  readonly envid: string
  readonly failed: readonly FailedRecipient[]
  /** How many recipients of the transaction were delivered (now or by an earlier attempt). */
  readonly delivered: number
  /** The message's header lines as Haraka holds them, each with its line end. */
  readonly headerLines: readonly string[]
  /** The whole message with CRLF line ends, when RET=FULL asked for it (and it fits); else only its headers return. */
  readonly fullMessage: Buffer | undefined
  /** The message's Message-ID, for In-Reply-To and References; empty when it had none. */
  readonly messageId: string
}

/** The DSN as the bytes of a message, headers first, CRLF line ends. */
export async function dsnMessage(input: DsnInput): Promise<Buffer> {
  const utf8 = input.failed.some(({ recipient }) => !isAscii(recipient.headerAddress + recipient.originalHeaderAddress))
  const root = new MimeNode('multipart/report; report-type=delivery-status', {
    hostname: input.reportingMta,
    newline: 'win',
  })
  root.setHeader({
    From: `Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    To: `<${input.sender}>`,
    Subject: 'Undelivered Mail Returned to Sender',
    // RFC 3834: no vacation responder or list manager answers this.
    'Auto-Submitted': 'auto-replied',
  })
  if (input.messageId !== '') root.setHeader({ 'In-Reply-To': input.messageId, References: input.messageId })
  root.createChild('text/plain; charset=utf-8').setContent(explanation(input))
  // RFC 6533: addresses outside ASCII need the global form of the report.
  root
    .createChild(utf8 ? 'message/global-delivery-status' : 'message/delivery-status')
    .setContent(deliveryStatus(input))
  const headers = input.headerLines.map((line) => line.replace(/\r?\n$/, '\r\n')).join('')
  if (input.fullMessage) {
    const returned = root.createChild('message/rfc822').setContent(input.fullMessage)
    // RFC 2046 5.2.1: a message part is never encoded; 8bit says that it holds bytes above 127.
    if (input.fullMessage.some((byte) => byte > 0x7f)) returned.setHeader('Content-Transfer-Encoding', '8bit')
  } else root.createChild('text/rfc822-headers; charset=utf-8').setContent(headers)
  return root.build()
}

/** The part a person reads, in the words Postfix's notifications use. */
function explanation(input: DsnInput): string {
  const { failed, delivered } = input
  const lines = [
    `This is the mail system at host ${input.reportingMta}.`,
    '',
    `Your message was delivered to ${delivered} of its ${delivered + failed.length} recipients, but it could`,
    `not be delivered to the ${failed.length === 1 ? 'recipient' : `${failed.length} recipients`} below, and will not be retried.`,
    'Please do not send it again to the others: they have it already.',
    '',
    '                   The mail system',
    '',
    ...failed.map(({ recipient, reply }) => `<${recipient.headerAddress}>: ${replyLine(reply)}`),
    '',
  ]
  return lines.join('\r\n')
}

/** RFC 3464's fields: those of the message, then one block per failed recipient. */
function deliveryStatus(input: DsnInput): string {
  const message = [
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `X-Haraka-Queue-ID: ${input.queueId}`,
    ...(input.envid === '' ? [] : [`Original-Envelope-Id: ${input.envid}`]),
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
  ]
  const recipients = input.failed.map(({ recipient, reply, orcpt }) => [
    `Final-Recipient: ${addressField(recipient.headerAddress)}`,
    `Original-Recipient: ${orcpt ? `${orcpt.type}; ${orcpt.address}` : addressField(recipient.originalHeaderAddress)}`,
    'Action: failed',
    `Status: ${enhancedCodeOf(reply) ?? '5.0.0'}`,
    `Diagnostic-Code: smtp; ${replyLine(reply)}`,
  ])
  return [message, ...recipients].map((fields) => fields.map((field) => `${field}\r\n`).join('')).join('\r\n')
}

/** The reply this recipient would have had in SMTP, had it been alone: code and text. */
function replyLine(reply: Reply): string {
  return `${HARAKA_REPLY[reply.verdict].code} ${reply.text || HARAKA_REPLY[reply.verdict].text}`
}

function enhancedCodeOf(reply: Reply): string | undefined {
  return /^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)/.exec(reply.text)?.[1]
}

/** `rfc822; local@domain`, or RFC 6533's `utf-8` type for an address outside ASCII. */
function addressField(address: string): string {
  return `${isAscii(address) ? 'rfc822' : 'utf-8'}; ${address}`
}

function isAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text)
}

/** `Thu, 03 Dec 2026 10:24:40 +0000`. */
function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000')
}
