// What one run knows about its transaction, taken from Haraka once so that the rest of the plugin
// works on plain data.
import { addressParts, headerAddress } from '../routing/address-parts.js'
import { senderOf, type Recipient } from '../routing/recipient.js'
import type { HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'

export interface Envelope {
  /** `${sender}`: the envelope sender, its local part unquoted like a recipient's; empty for `<>`. */
  readonly sender: string
  /** The sender as a header writes it (Return-Path:, the From_ line); empty for `<>`. */
  readonly senderHeaderAddress: string
  readonly recipients: readonly Recipient[]
  readonly queueId: string
  readonly clientAddress: string
  readonly clientHelo: string
  /** The values of the message's Delivered-To: headers (delivered_to's loop check). */
  readonly deliveredToHeaders: readonly string[]
}

/** The envelope of a transaction, without recipients: each run of it has its own. */
export function envelopeOf(connection: HarakaConnection, transaction: HarakaTransaction): Omit<Envelope, 'recipients'> {
  const sender = transaction.mail_from
  const parts = addressParts(sender, undefined)
  return {
    sender: senderOf(sender),
    senderHeaderAddress: sender.isNull() ? '' : headerAddress(parts.local, parts.host),
    queueId: transaction.uuid,
    clientAddress: connection.remote.ip,
    clientHelo: connection.hello.host ?? '',
    deliveredToHeaders: transaction.header.get_all('Delivered-To'),
  }
}
