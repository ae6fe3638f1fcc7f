// The routing table from the config: every instance's `domain` entries and `[NAME.address]`
// entries, and the `[unrouted]` addresses. An entry belongs to one instance: the same address, the
// same domain entry, or an `@domain` entry beside a `domain` entry for that domain, in two
// instances is an error that names both.
import { AddressTable } from './address-table.js'
import { isDomain } from './domains.js'
import { ADDRESS_SUFFIX, type Ini } from './ini-text.js'
import { UNROUTED_SECTION } from './keys.js'
import { iniText } from './ini-values.js'
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
        problems.error(
          section,
          line.error,
          'haraka-config cannot read this line; an address key may hold letters, digits and . _ + - / : @ only',
        )
        continue
      }
      const { key, value } = line.value
      const fail = (message: string): void => problems.error(section, key, message)
      const entry = key.toLowerCase()
      if (!isAddressKey(entry, { domainWide: true })) {
        fail('must be an address (local@domain) or @domain; internationalised domains in xn-- form')
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
  for (const [key, value] of Object.entries(ini.sections[UNROUTED_SECTION] ?? {})) {
    const fail = (message: string): void => problems.error(UNROUTED_SECTION, key, message)
    const entry = key.toLowerCase()
    const routed = addresses.get(entry)?.instance.name
    if (!isAddressKey(entry, { anyDomain: true }))
      fail('must be an address (local@domain) or local@ for that local part in every domain')
    else if (iniText(value).trim() !== '') fail('takes no value: list the address alone')
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
