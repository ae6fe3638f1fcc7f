// The routing table from the config: every instance's `domain` entries and `[NAME.address]`
// entries, and the `[unrouted]` addresses. An entry belongs to one instance: the same address, the
// same domain entry, or an `@domain` entry beside a `domain` entry for that domain, in two
// instances is an error that names both.
import { AddressTable } from './address-table.js'
import { asciiDomain, isDomain } from './domains.js'
import { ADDRESS_SUFFIX, type Ini } from './ini-text.js'
import { UNROUTED_SECTION } from './keys.js'
import type { Problems } from './problems.js'
import type { Instance, RouteEntries, RouteMatch } from './vocabulary.js'

export interface RouteTableEntries extends RouteEntries {
  /** How many `[NAME.address]` entries each instance has. */
  readonly addressCounts: ReadonlyMap<Instance, number>
}

/**
 * Builds the routing table, reporting every entry that two instances claim. `[NAME.address]` is
 * read line by line straight into the compact AddressTable: with 100,000 addresses, any copy of
 * them as JavaScript objects costs tens of MB.
 */
export function routeEntries(instances: readonly Instance[], ini: Ini, problems: Problems): RouteTableEntries {
  const domains = new Map<string, RouteMatch>()
  for (const instance of instances) {
    for (const domain of instance.domains) {
      const owner = domains.get(domain)?.instance
      if (owner && owner !== instance)
        problems.error(instance.name, 'domain', `${domain} is already routed by [${owner.name}]`)
      else domains.set(domain, { instance, data: '' })
    }
  }
  const table = new AddressTable(ini.addressSize)
  const addressCounts = new Map<Instance, number>()
  for (const [index, instance] of instances.entries()) {
    const section = `${instance.name}${ADDRESS_SUFFIX}`
    let count = 0
    for (const line of ini.addressLines(section)) {
      if (!line.ok) {
        problems.error(section, line.key, line.error)
        continue
      }
      const { key, value } = line.value
      const fail = (message: string): void => problems.error(section, key, message)
      const entry = addressKey(key, { domainWide: true })
      if (entry === undefined) {
        fail('must be an address (local@domain) or @domain')
        continue
      }
      const data = value?.trim() ?? ''
      // No address-derived value may start an argument with "-", and the operator's own route
      // data is held to the same rule, so that a typo cannot become an option either.
      if (data.startsWith('-')) fail(`route data "${data}" must not start with "-"`)
      const domainOwner = entry.startsWith('@') ? domains.get(entry.slice(1))?.instance : undefined
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
    get: (key: string): RouteMatch | undefined => {
      const hit = table.get(key)
      const instance = hit && instances[hit.owner]
      return instance && { instance, data: hit.data }
    },
  }
  return { domains, addresses, unrouted: readUnrouted(ini, addresses, problems), addressCounts }
}

/** `[unrouted]`: `local@domain` or `local@` (that local part in every domain), without values. */
function readUnrouted(ini: Ini, addresses: RouteEntries['addresses'], problems: Problems): Set<string> {
  const unrouted = new Set<string>()
  for (const line of ini.addressLines(UNROUTED_SECTION)) {
    if (!line.ok) {
      problems.error(UNROUTED_SECTION, line.key, line.error)
      continue
    }
    const { key, value } = line.value
    const fail = (message: string): void => problems.error(UNROUTED_SECTION, key, message)
    const entry = addressKey(key, { anyDomain: true })
    const routed = entry === undefined ? undefined : addresses.get(entry)?.instance.name
    if (entry === undefined) fail('must be an address (local@domain) or local@ for that local part in every domain')
    else if ((value ?? '') !== '') fail('takes no value: list the address alone')
    else if (routed !== undefined) fail(`is routed by [${routed}] in [${routed}${ADDRESS_SUFFIX}]`)
    else unrouted.add(entry)
  }
  return unrouted
}

/**
 * The routing table's key for an entry: `local@domain`, the local part in lower case (UTF-8
 * allowed, RFC 6531) and the domain as asciiDomain() gives it; with `domainWide`, also `@domain`;
 * with `anyDomain`, also `local@`. Undefined for anything else.
 */
function addressKey(entry: string, allow: { domainWide?: boolean; anyDomain?: boolean }): string | undefined {
  const at = entry.lastIndexOf('@')
  if (at < 0) return undefined
  const local = entry.slice(0, at).toLowerCase()
  const written = entry.slice(at + 1)
  if (written === '') return local !== '' && allow.anyDomain === true ? `${local}@` : undefined
  const domain = asciiDomain(written)
  if (domain === undefined || !isDomain(domain)) return undefined
  if (local === '') return allow.domainWide === true ? `@${domain}` : undefined
  return `${local}@${domain}`
}
