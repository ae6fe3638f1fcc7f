// Which instance, if any, delivers mail for a recipient, most specific entry first, as Postfix's
// transport(5) looks up its table:
//   1. the whole address (`[NAME.address]` key `local@domain`);
//   2. the address without its extension (when recipient_delimiter split one off);
//   3. an `[unrouted]` entry for either: no instance, the address is left to other queue plugins;
//   4. `@domain` (`[NAME.address]`: every other address of the domain);
//   5. `domain` entries: the exact domain, then the longest `*.` wildcard, then `*`.
// Matching ignores case: every key is lower-case, and so is what is looked up.

export interface RouteMatch<Route> {
  readonly route: Route
  /** The matched `[NAME.address]` entry's value (`${route_data}`); empty for a `domain` entry. */
  readonly data: string
}

export interface RouteEntries<Route> {
  /** `local@domain` and `@domain` keys with their route data (a Map will do; settings.ts uses an AddressTable). */
  readonly addresses: { get(key: string): RouteMatch<Route> | undefined }
  /** `local@domain` and `local@` (that local part in every domain) keys. */
  readonly unrouted: ReadonlySet<string>
  /** `example.com`, `*.example.com` and `*` keys, as configured. */
  readonly domains: ReadonlyMap<string, RouteMatch<Route>>
}

/** What a lookup needs of a recipient: its whole local part, the part before the extension, the domain. */
export interface LookupAddress {
  readonly local: string
  readonly user: string
  readonly domain: string
}

export class RouteTable<Route> {
  constructor(private readonly entries: RouteEntries<Route>) {}

  lookup(address: LookupAddress): RouteMatch<Route> | undefined {
    const domain = address.domain.toLowerCase()
    const local = address.local.toLowerCase()
    const user = address.user.toLowerCase()
    const { addresses, unrouted } = this.entries
    const whole = addresses.get(`${local}@${domain}`) ?? (user === local ? undefined : addresses.get(`${user}@${domain}`))
    if (whole !== undefined) return whole
    for (const key of [`${local}@${domain}`, `${local}@`, `${user}@${domain}`, `${user}@`]) if (unrouted.has(key)) return undefined
    return addresses.get(`@${domain}`) ?? this.lookupDomain(domain)
  }

  private lookupDomain(domain: string): RouteMatch<Route> | undefined {
    const { domains } = this.entries
    const exact = domains.get(domain)
    if (exact !== undefined) return exact
    // Walk up the labels: for a.b.example.com try *.b.example.com, *.example.com, *.com.
    for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1)) {
      const wildcard = domains.get(`*${domain.slice(dot)}`)
      if (wildcard !== undefined) return wildcard
    }
    return domains.get('*')
  }
}

const DOMAIN = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/

/** A domain as the config may write it, lower-cased; internationalised names in A-label form. */
export function isDomain(entry: string): boolean {
  return DOMAIN.test(entry)
}

/** A `domain` entry: a domain, `*.domain` or `*`. */
export function isDomainEntry(entry: string): boolean {
  return entry === '*' || isDomain(entry.startsWith('*.') ? entry.slice(2) : entry)
}
