// What one run knows about its transaction, taken from Haraka once so that the rest of the plugin
// works on plain data.
import { addressParts, headerAddress } from '../routing/address-parts.js'
import { senderOf, type Recipient } from '../routing/recipient.js'
import type { HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'
import { mailParametersOf } from './dsn-parameters.js'

export interface Envelope {
  /** `${sender}`: the envelope sender, its local part unquoted like a recipient's; empty for `<>`. */
  readonly sender: string
  /** The sender as a header writes it (Return-Path:, the From_ line); empty for `<>`. */
  readonly senderHeaderAddress: string
  readonly recipients: readonly Recipient[]
  readonly queueId: string
  readonly clientAddress: string
  readonly clientHelo: string
  /** `${sasl_username}`: the name the client authenticated as; empty without SMTP AUTH. */
  readonly saslUsername: string
  /** `${size}`: the bytes the client sent in DATA, as Haraka counts them; undefined before DATA. */
  readonly size: number | undefined
  /** `${envid}`: the envelope id the client gave (ENVID, RFC 3461); empty when none. */
  readonly envid: string
  /**
   * `${delivery_id}` of each recipient: the same for every retry of the message to it, on every
   * host (queue/delivery-id.ts). Empty before the message is known (at RCPT, in --dry-run).
   */
  readonly deliveryIds: ReadonlyMap<Recipient, string>
  /** The values of the message's Delivered-To: headers (delivered_to's loop check). */
  readonly deliveredToHeaders: readonly string[]
}

const NO_DELIVERY_IDS: ReadonlyMap<Recipient, string> = new Map()

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
    saslUsername: typeof connection.notes.auth_user === 'string' ? connection.notes.auth_user : '',
    size: transaction.data_bytes > 0 ? transaction.data_bytes : undefined,
    envid: mailParametersOf(transaction).envid,
    deliveryIds: NO_DELIVERY_IDS,
    deliveredToHeaders: transaction.header.get_all('Delivered-To'),
  }
}
