// What one delivery knows about its message, taken from Haraka once so that the rest of the
// plugin works on plain data.
import { addressParts, headerAddress, plainAddress, type AddressParts } from '../routing/address-parts.js'
import type { HarakaAddress, HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'

/** One recipient as its program sees it: the values of the per-recipient macros, and more. */
export interface Recipient {
  /** `${recipient}`: `mailbox@domain`, the local part unquoted (the form Postfix passes). */
  readonly address: string
  /** `${user}`: the local part without its extension (all of it without recipient_delimiter). */
  readonly user: string
  /** `${extension}`: the text after the delimiter, or empty. */
  readonly extension: string
  /** `${mailbox}`: the whole local part. */
  readonly mailbox: string
  /** `${domain}`, in lower case. */
  readonly domain: string
  /** `${original_recipient}`: the address the client gave at RCPT, before any plugin rewrote it. */
  readonly originalRecipient: string
  /** `${route_data}`: the value of the `[NAME.address]` entry that routed it, or empty. */
  readonly routeData: string
  /** The routed address as a header writes it (Delivered-To:), local part quoted where needed. */
  readonly headerAddress: string
  /** The original address as a header writes it (X-Original-To:). */
  readonly originalHeaderAddress: string
}

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

export interface RecipientOptions {
  readonly routeData: string
  /** lowercase_local_part (Postfix flag u): the local part in macros and environment in lower case. */
  readonly lowercaseLocalPart: boolean
}

/** The recipient `routed` (whose original, as the client gave it, is `original`). */
export function recipientOf(routed: AddressParts, original: AddressParts, options: RecipientOptions): Recipient {
  const fold = (text: string): string => (options.lowercaseLocalPart ? text.toLowerCase() : text)
  return {
    address: plainAddress(fold(routed.local), routed.host),
    user: fold(routed.user),
    extension: fold(routed.extension),
    mailbox: fold(routed.local),
    domain: routed.domain,
    originalRecipient: plainAddress(fold(original.local), original.host),
    routeData: options.routeData,
    headerAddress: headerAddress(routed.local, routed.host),
    originalHeaderAddress: headerAddress(original.local, original.host),
  }
}

/** `${sender}` for an envelope sender: empty for `<>`. */
export function senderOf(address: HarakaAddress): string {
  if (address.isNull()) return ''
  const { local, host } = addressParts(address, undefined)
  return plainAddress(local, host)
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
