// A routed recipient as its program sees it: the values of the per-recipient macros, worked out
// once when the recipient is routed. SMTP may quote a local part; a program gets it unquoted (the
// form Postfix passes), and headers quote it again.
import type { HarakaAddress } from '../types/haraka-types.js'
import { addressParts, headerAddress, plainAddress, type AddressParts } from './address-parts.js'

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

/** `${sender}` for an envelope sender: its local part unquoted like a recipient's; empty for `<>`. */
export function senderOf(address: HarakaAddress): string {
  if (address.isNull()) return ''
  const { local, host } = addressParts(address, undefined)
  return plainAddress(local, host)
}
