// Routes one of Haraka's recipient addresses: the instance and route data that deliver it, and the
// values its macros take there. `${original_recipient}` needs the address the client gave at RCPT,
// which a plugin such as haraka-plugin-aliases may have replaced since: original-recipients.ts
// keeps it.
import { recipientOf } from '../invocation/envelope.js'
import type { Settings } from '../settings/settings.js'
import type { HarakaAddress } from '../types/haraka-types.js'
import { addressParts } from './address-parts.js'
import type { RoutedAddress } from './rcpt-policy.js'

export function routeRecipient(settings: Settings, address: HarakaAddress, original: HarakaAddress = address): RoutedAddress {
  const parts = addressParts(address, settings.recipientDelimiter)
  const match = settings.routes.lookup(parts)
  const recipient =
    match &&
    recipientOf(parts, original === address ? parts : addressParts(original, settings.recipientDelimiter), {
      routeData: match.data,
      lowercaseLocalPart: match.route.lowercaseLocalPart,
    })
  return { address: address.address, match, recipient }
}
