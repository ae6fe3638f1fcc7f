// The routing table from the config: every instance's `domain` entries and `[NAME.address]`
// entries, and the `[unrouted]` addresses. An entry belongs to one instance: the same address, the
// same domain entry, or an `@domain` entry beside a `domain` entry for that domain, in two
// instances is an error that names both.
import { isDomain } from '../routing/route.js'
import type { RouteEntries, RouteMatch } from '../routing/route.js'
import type { ConfigError, RawIni } from './settings.js'

/** The section of addresses that pipe_transport leaves to Haraka's other queue plugins. */
export const UNROUTED_SECTION = 'unrouted'

/** What routing needs of an instance. */
export interface Routed {
  readonly name: string
  readonly domains: readonly string[]
  /** `[NAME.address]`: lower-case `local@domain` or `@domain` keys, with their route data. */
  readonly addresses: ReadonlyMap<string, string>
}

/** Reads `[NAME.address]`: keys `local@domain` or `@domain`, each with optional route data. */
export function readAddresses(name: string, raw: RawIni, errors: ConfigError[]): Map<string, string> {
  const section = `${name}.address`
  const addresses = new Map<string, string>()
  for (const [key, value] of Object.entries(raw[section] ?? {})) {
    const fail = (message: string): void => void errors.push({ section, key, message })
    const entry = key.toLowerCase()
    if (!isAddressKey(entry, { domainWide: true })) {
      fail('must be an address (local@domain) or @domain; internationalised domains in xn-- form')
      continue
    }
    const data = value === undefined || value === null ? '' : String(value).trim()
    // No address-derived value may start an argument with "-", and the operator's own route data
    // is held to the same rule so that a typo cannot become an option either.
    if (data.startsWith('-')) fail(`route data "${data}" must not start with "-"`)
    if (addresses.has(entry)) fail(`${entry} is listed twice`)
    addresses.set(entry, data)
  }
  return addresses
}

/** Builds the routing table, reporting every entry that two instances claim. */
export function routeEntries<Route extends Routed>(instances: readonly Route[], raw: RawIni, errors: ConfigError[]): RouteEntries<Route> {
  const domains = new Map<string, RouteMatch<Route>>()
  const addresses = new Map<string, RouteMatch<Route>>()
  for (const instance of instances) {
    for (const domain of instance.domains) {
      const owner = domains.get(domain)?.route ?? addresses.get(`@${domain}`)?.route
      if (owner && owner !== instance) errors.push({ section: instance.name, key: 'domain', message: `${domain} is already routed by [${owner.name}]` })
      else domains.set(domain, { route: instance, data: '' })
    }
    for (const [entry, data] of instance.addresses) {
      const owner = addresses.get(entry)?.route ?? (entry.startsWith('@') ? domains.get(entry.slice(1))?.route : undefined)
      if (owner && owner !== instance) {
        errors.push({ section: `${instance.name}.address`, key: entry, message: `is already routed by [${owner.name}]` })
      } else addresses.set(entry, { route: instance, data })
    }
  }
  return { domains, addresses, unrouted: readUnrouted(raw, addresses, errors) }
}

/** `[unrouted]`: `local@domain` or `local@` (that local part in every domain), without values. */
function readUnrouted(raw: RawIni, addresses: ReadonlyMap<string, RouteMatch<Routed>>, errors: ConfigError[]): Set<string> {
  const unrouted = new Set<string>()
  for (const [key, value] of Object.entries(raw[UNROUTED_SECTION] ?? {})) {
    const fail = (message: string): void => void errors.push({ section: UNROUTED_SECTION, key, message })
    const entry = key.toLowerCase()
    if (!isAddressKey(entry, { anyDomain: true })) fail('must be an address (local@domain) or local@ for that local part in every domain')
    else if (value !== undefined && value !== null && String(value).trim() !== '') fail('takes no value: list the address alone')
    else if (addresses.has(entry)) fail(`is routed by [${addresses.get(entry)?.route.name}] in [${addresses.get(entry)?.route.name}.address]`)
    else unrouted.add(entry)
  }
  return unrouted
}

/** `local@domain`; with `domainWide`, also `@domain`; with `anyDomain`, also `local@`. */
function isAddressKey(entry: string, allow: { domainWide?: boolean; anyDomain?: boolean }): boolean {
  const at = entry.lastIndexOf('@')
  if (at < 0) return false
  const local = entry.slice(0, at)
  const domain = entry.slice(at + 1)
  if (local === '') return allow.domainWide === true && isDomain(domain)
  if (domain === '') return allow.anyDomain === true
  return isDomain(domain)
}
