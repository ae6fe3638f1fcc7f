// Routes one of Haraka's recipient addresses: the instance and route data that deliver it, and the
// values its macros take there. `${original_recipient}` needs the address the client gave at RCPT,
// which a plugin such as haraka-plugin-aliases may have replaced since: original-recipients.ts
// keeps it.
import type { RouteMatch, Settings } from '../settings/vocabulary.js'
import type { HarakaAddress } from '../types/haraka-types.js'
import { addressParts } from './address-parts.js'
import { recipientOf, type Recipient } from './recipient.js'
import { lookupRoute } from './route.js'

/** A recipient address and where it goes: its route, and its macro values when it has one. */
export interface AddressRoute {
  readonly address: string
  readonly match: RouteMatch | undefined
  readonly recipient: Recipient | undefined
}

export function routeRecipient(
  settings: Settings,
  address: HarakaAddress,
  original: HarakaAddress = address,
): AddressRoute {
  const parts = addressParts(address, settings.recipientDelimiter)
  const match = lookupRoute(settings.routes, parts)
  const recipient =
    match &&
    recipientOf(parts, original === address ? parts : addressParts(original, settings.recipientDelimiter), {
      routeData: match.data,
      lowercaseLocalPart: match.instance.lowercaseLocalPart,
    })
  return { address: address.address, match, recipient }
}
