// The queue hook's work for one transaction: which of its recipients this plugin delivers, and if
// they are all its own, their delivery (deliver-transaction.ts). The entry logs what this returns
// (log/) and answers Haraka with its reply.
import { envelopeOf } from '../invocation/envelope.js'
import type { DeliveryJournal } from '../journal/delivery-journal.js'
import { QUEUE_NAME, splitRouted } from '../routing/rcpt-policy.js'
import { originalOf } from '../routing/original-recipients.js'
import { routeRecipient } from '../routing/route-recipient.js'
import type { Reply, Settings } from '../settings/vocabulary.js'
import type { HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'
import { messageOf } from '../util/error-message.js'
import { deliverTransaction, type TransactionReport } from './deliver-transaction.js'
import { messageFingerprint } from './fingerprint.js'
import { INTERNAL_ERROR } from './run-reply.js'

export type QueueOutcome =
  /** Another queue plugin's transaction: nothing of it is routed here, or it was claimed for another. */
  | { readonly kind: 'not-ours' }
  /** Routed and unrouted recipients together, which RCPT normally prevents: deferred whole. */
  | { readonly kind: 'mixed'; readonly unrouted: readonly string[]; readonly reply: Reply }
  | { readonly kind: 'delivered'; readonly queueId: string; readonly report: TransactionReport; readonly reply: Reply }
  /** A fault inside the plugin (copying the message failed, say): deferred, never lost. */
  | { readonly kind: 'failed'; readonly error: string; readonly reply: Reply }

const MIXED: Reply = {
  verdict: 'denysoft',
  text: '4.3.0 pipe transport: some recipients are delivered by other means, send them separately',
}

export async function queueTransaction(
  settings: Settings,
  journal: DeliveryJournal | undefined,
  connection: HarakaConnection,
  transaction: HarakaTransaction,
): Promise<QueueOutcome> {
  const wanted = transaction.notes.get('queue.wants')
  if (wanted && wanted !== QUEUE_NAME) return { kind: 'not-ours' }
  const { routed, unrouted } = splitRouted(
    transaction.rcpt_to.map((rcpt) => routeRecipient(settings, rcpt, originalOf(rcpt))),
  )
  if (routed.length === 0) return { kind: 'not-ours' }
  if (unrouted.length > 0) return { kind: 'mixed', unrouted, reply: MIXED }

  const envelope = envelopeOf(connection, transaction)
  const stream = transaction.message_stream
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
    })
    return { kind: 'delivered', queueId: envelope.queueId, report, reply: report.reply }
  } catch (err) {
    stream.unpipe()
    return { kind: 'failed', error: messageOf(err), reply: INTERNAL_ERROR }
  }
}
