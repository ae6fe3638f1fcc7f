// The queue hook's work for one transaction: which of its recipients this plugin delivers, and if
// they are all its own, their delivery (deliver-transaction.ts). The entry logs what this returns
// (log/) and answers Haraka with its reply.
import {
  NO_RCPT_PARAMETERS,
  mailParametersOf,
  rcptParametersOf,
  type RcptParameters,
} from '../invocation/dsn-parameters.js'
import { envelopeOf } from '../invocation/envelope.js'
import type { DeliveryJournal } from '../journal/delivery-journal.js'
import { QUEUE_NAME, splitRouted } from '../routing/rcpt-policy.js'
import { originalOf } from '../routing/original-recipients.js'
import { routeRecipient } from '../routing/route-recipient.js'
import type { Reply, Settings } from '../settings/vocabulary.js'
import type { Recipient } from '../routing/recipient.js'
import type { HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'
import { messageOf } from '../util/error-message.js'
import { deliverTransaction, type TransactionReport } from './deliver-transaction.js'
import { messageFingerprint } from './fingerprint.js'
import { readMessage } from './message-source.js'
import { INTERNAL_ERROR } from './run-reply.js'
import { FULL_RETURN_MAX_BYTES, noticeToSender, type DsnSender, type NoticeContext } from './sender-notice.js'

export type QueueOutcome =
  /** Another queue plugin's transaction: nothing of it is routed here, or it was claimed for another. */
  | { readonly kind: 'not-ours' }
  /** Routed and unrouted recipients together, which RCPT normally prevents: deferred whole. */
  | {
      readonly kind: 'mixed'
      readonly queueId: string
      /** Every recipient, in the transaction's order. */
      readonly recipients: readonly string[]
      readonly unrouted: readonly string[]
      readonly reply: Reply
    }
  | { readonly kind: 'delivered'; readonly queueId: string; readonly report: TransactionReport; readonly reply: Reply }
  /** A fault inside the plugin (copying the message failed, say): deferred, never lost. */
  | { readonly kind: 'failed'; readonly error: string; readonly reply: Reply }

const MIXED: Reply = {
  verdict: 'denysoft',
  text: '4.3.0 pipe transport: some recipients are delivered by other means, send them separately',
}

/** Haraka's outbound, for the DSN after a partial failure: how to queue one, and this host's name. */
export interface Outbound {
  readonly send: DsnSender
  hostname(): string
}

export async function queueTransaction(
  settings: Settings,
  journal: DeliveryJournal | undefined,
  connection: HarakaConnection,
  transaction: HarakaTransaction,
  outbound: Outbound,
): Promise<QueueOutcome> {
  const wanted = transaction.notes.get('queue.wants')
  if (wanted && wanted !== QUEUE_NAME) return { kind: 'not-ours' }
  const parameters = new Map<Recipient, RcptParameters>()
  const routes = transaction.rcpt_to.map((rcpt) => {
    const route = routeRecipient(settings, rcpt, originalOf(rcpt))
    if (route.recipient) parameters.set(route.recipient, rcptParametersOf(originalOf(rcpt)))
    return route
  })
  const { routed, unrouted } = splitRouted(routes)
  if (routed.length === 0) return { kind: 'not-ours' }
  if (unrouted.length > 0) {
    const recipients = routes.map((route) => route.address)
    return { kind: 'mixed', queueId: transaction.uuid, recipients, unrouted, reply: MIXED }
  }

  const envelope = envelopeOf(connection, transaction)
  const stream = transaction.message_stream
  const notice: NoticeContext = {
    sender: envelope.senderHeaderAddress,
    mail: mailParametersOf(transaction),
    rcptParameters: (recipient) => parameters.get(recipient) ?? NO_RCPT_PARAMETERS,
    reportingMta: () => outbound.hostname(),
    queueId: envelope.queueId,
    arrivalDate: new Date(),
    headerLines: transaction.header.header_list,
    messageId: transaction.header.get_all('Message-ID')[0]?.trim() ?? '',
    fullMessage: async () => {
      if (transaction.data_bytes > FULL_RETURN_MAX_BYTES) return undefined
      const chunks: Buffer[] = []
      await readMessage(stream, { line_endings: '\r\n' }, (chunk) => chunks.push(chunk))
      return Buffer.concat(chunks)
    },
    send: outbound.send,
  }
  try {
    const report = await deliverTransaction({
      routed,
      envelope,
      message: {
        stream,
        bytes: transaction.data_bytes,
        fingerprint: () => messageFingerprint(transaction),
      },
      journal,
      journalUnavailable: settings.journal.unavailable,
      partialFailure: settings.partialFailure,
      noticeToSender: (failed, delivered) => noticeToSender(notice, failed, delivered),
    })
    return { kind: 'delivered', queueId: envelope.queueId, report, reply: report.reply }
  } catch (err) {
    stream.unpipe()
    return { kind: 'failed', error: messageOf(err), reply: INTERNAL_ERROR }
  }
}
