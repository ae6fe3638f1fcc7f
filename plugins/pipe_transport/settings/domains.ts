// `domain` entries, and what a domain may look like wherever the config names one.
import type { SectionReader } from './section-reader.js'

const DOMAIN = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/

/** A domain as the config may write it, lower-cased; internationalised names in A-label form. */
export function isDomain(entry: string): boolean {
  return DOMAIN.test(entry)
}

/** A `domain` entry: a domain, `*.domain` or `*`. */
export function isDomainEntry(entry: string): boolean {
  return entry === '*' || isDomain(entry.startsWith('*.') ? entry.slice(2) : entry)
}

/** `domain = a.example, b.example` or `domain[] = a.example` lines, lower-cased, each once. */
export function readDomains(reader: SectionReader): string[] {
  const domains = reader.list('domain').map((entry) => entry.toLowerCase())
  for (const domain of domains) {
    if (!isDomainEntry(domain)) reader.fail('domain', `"${domain}" is not a domain, "*.domain" or "*"`)
  }
  const seen = new Set<string>()
  for (const domain of domains) {
    if (seen.has(domain)) reader.fail('domain', `${domain} is listed twice`)
    seen.add(domain)
  }
  return [...seen]
}
