// Which instance, if any, delivers mail for a recipient, most specific entry first, as Postfix's
// transport(5) looks up its table:
//   1. the whole address (`[NAME.address]` key `local@domain`);
//   2. the address without its extension (when recipient_delimiter split one off);
//   3. an `[unrouted]` entry for either: no instance, the address is left to other queue plugins;
//   4. `@domain` (`[NAME.address]`: every other address of the domain);
//   5. `domain` entries: the exact domain, then the longest `*.` wildcard, then `*`.
// Matching ignores case: every key is lower-case, and so is what is looked up. Domains are
// compared as A-labels (settings/domains.ts): `bücher.example` finds an entry for either form.
import { asciiDomain } from '../settings/domains.js'
import type { RouteEntries, RouteMatch } from '../settings/vocabulary.js'

/** What a lookup needs of a recipient: its whole local part, the part before the extension, the domain. */
export interface LookupAddress {
  readonly local: string
  readonly user: string
  readonly domain: string
}

export function lookupRoute(entries: RouteEntries, address: LookupAddress): RouteMatch | undefined {
  // A domain with no A-label form: Haraka refuses it at RCPT; nothing is routed by its text.
  const domain = asciiDomain(address.domain) ?? address.domain.toLowerCase()
  const local = address.local.toLowerCase()
  const user = address.user.toLowerCase()
  const { addresses, unrouted } = entries
  const whole = addresses.get(`${local}@${domain}`) ?? (user === local ? undefined : addresses.get(`${user}@${domain}`))
  if (whole !== undefined) return whole
  for (const key of [`${local}@${domain}`, `${local}@`, `${user}@${domain}`, `${user}@`])
    if (unrouted.has(key)) return undefined
  return addresses.get(`@${domain}`) ?? lookupDomain(entries.domains, domain)
}

function lookupDomain(domains: RouteEntries['domains'], domain: string): RouteMatch | undefined {
  const exact = domains.get(domain)
  if (exact !== undefined) return exact
  // Walk up the labels: for a.b.example.com try *.b.example.com, *.example.com, *.com.
  for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1)) {
    const wildcard = domains.get(`*${domain.slice(dot)}`)
    if (wildcard !== undefined) return wildcard
  }
  return domains.get('*')
}
