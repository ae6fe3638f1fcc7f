// The routing table from the config: every instance's `domain` entries and `[NAME.address]`
// entries, and the `[unrouted]` addresses. An entry belongs to one instance: the same address, the
// same domain entry, or an `@domain` entry beside a `domain` entry for that domain, in two
// instances is an error that names both.
import { AddressTable } from './address-table.js'
import { isDomain, type RouteEntries, type RouteMatch } from '../routing/route.js'
import { ADDRESS_SUFFIX, type Ini } from './ini-text.js'
import type { ConfigError } from './settings.js'

/** The section of addresses that pipe_transport leaves to Haraka's other queue plugins. */
export const UNROUTED_SECTION = 'unrouted'

/** What routing needs of an instance. */
export interface Routed {
  readonly name: string
  readonly domains: readonly string[]
}

export interface RouteTableEntries<Route> extends RouteEntries<Route> {
  /** How many `[NAME.address]` entries each instance has. */
  readonly addressCounts: ReadonlyMap<Route, number>
}

/**
 * Builds the routing table, reporting every entry that two instances claim. `[NAME.address]` is
 * read line by line straight into the compact AddressTable: with 100,000 addresses, any copy of
 * them as JavaScript objects costs tens of MB.
 */
export function routeEntries<Route extends Routed>(instances: readonly Route[], ini: Ini, errors: ConfigError[]): RouteTableEntries<Route> {
  const domains = new Map<string, RouteMatch<Route>>()
  for (const instance of instances) {
    for (const domain of instance.domains) {
      const owner = domains.get(domain)?.route
      if (owner && owner !== instance) errors.push({ section: instance.name, key: 'domain', message: `${domain} is already routed by [${owner.name}]` })
      else domains.set(domain, { route: instance, data: '' })
    }
  }
  const table = new AddressTable(ini.addressSize)
  const addressCounts = new Map<Route, number>()
  for (const [index, instance] of instances.entries()) {
    const section = `${instance.name}${ADDRESS_SUFFIX}`
    let count = 0
    for (const line of ini.addressLines(section)) {
      if ('unreadable' in line) {
        errors.push({ section, key: line.unreadable, message: 'haraka-config cannot read this line; an address key may hold letters, digits and . _ + - / : @ only' })
        continue
      }
      const fail = (message: string): void => void errors.push({ section, key: line.key, message })
      const entry = line.key.toLowerCase()
      if (!isAddressKey(entry, { domainWide: true })) {
        fail('must be an address (local@domain) or @domain; internationalised domains in xn-- form')
        continue
      }
      const data = line.value?.trim() ?? ''
      // No address-derived value may start an argument with "-", and the operator's own route
      // data is held to the same rule, so that a typo cannot become an option either.
      if (data.startsWith('-')) fail(`route data "${data}" must not start with "-"`)
      const domainOwner = entry.startsWith('@') ? domains.get(entry.slice(1))?.route : undefined
      if (domainOwner && domainOwner !== instance) {
        fail(`is already routed by [${domainOwner.name}]`)
        continue
      }
      const taken = table.add(entry, index, data)
      if (taken === undefined) count++
      else if (taken.owner === index) fail(`${entry} is listed twice`)
      else fail(`is already routed by [${instances[taken.owner]?.name}]`)
    }
    addressCounts.set(instance, count)
  }
  const addresses = {
    get: (key: string): RouteMatch<Route> | undefined => {
      const hit = table.get(key)
      const route = hit && instances[hit.owner]
      return route && { route, data: hit.data }
    },
  }
  return { domains, addresses, unrouted: readUnrouted(ini, addresses, errors), addressCounts }
}

/** `[unrouted]`: `local@domain` or `local@` (that local part in every domain), without values. */
function readUnrouted(ini: Ini, addresses: RouteEntries<Routed>['addresses'], errors: ConfigError[]): Set<string> {
  const unrouted = new Set<string>()
  for (const [key, value] of Object.entries(ini.sections[UNROUTED_SECTION] ?? {})) {
    const fail = (message: string): void => void errors.push({ section: UNROUTED_SECTION, key, message })
    const entry = key.toLowerCase()
    const routed = addresses.get(entry)?.route.name
    if (!isAddressKey(entry, { anyDomain: true })) fail('must be an address (local@domain) or local@ for that local part in every domain')
    else if (value !== undefined && value !== null && String(value).trim() !== '') fail('takes no value: list the address alone')
    else if (routed !== undefined) fail(`is routed by [${routed}] in [${routed}${ADDRESS_SUFFIX}]`)
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
