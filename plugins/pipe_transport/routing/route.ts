// Which instance, if any, delivers mail for a recipient domain.
// Entries are exact domains, `*.example.com` (any subdomain, not example.com itself) and `*`
// (catch-all). Precedence: exact, then the longest wildcard, then the catch-all.

export class RouteTable<Route> {
  /** Keys are lower-case entries exactly as configured: `example.com`, `*.example.com`, `*`. */
  constructor(private readonly entries: ReadonlyMap<string, Route>) {}

  lookup(domain: string): Route | undefined {
    const name = domain.toLowerCase()
    const exact = this.entries.get(name)
    if (exact !== undefined) return exact
    // Walk up the labels: for a.b.example.com try *.b.example.com, *.example.com, *.com.
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      const wildcard = this.entries.get(`*${name.slice(dot)}`)
      if (wildcard !== undefined) return wildcard
    }
    return this.entries.get('*')
  }
}

/** A domain entry as the config may write it, lower-cased; internationalised names in A-label form. */
export function isDomainEntry(entry: string): boolean {
  if (entry === '*') return true
  const domain = entry.startsWith('*.') ? entry.slice(2) : entry
  return /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/.test(domain)
}

/** The one route a set of recipient domains shares, or `mixed` when they do not share one. */
export function sharedRoute<Route>(
  routes: RouteTable<Route>,
  domains: readonly string[],
): { readonly route: Route | undefined } | { readonly mixed: readonly (Route | undefined)[] } {
  const found = [...new Set(domains.map((domain) => routes.lookup(domain)))]
  return found.length <= 1 ? { route: found[0] } : { mixed: found }
}
