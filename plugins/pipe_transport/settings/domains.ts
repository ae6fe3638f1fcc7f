// `domain` entries, and what a domain may look like wherever the config names one. Domains are
// compared in one form, A-labels in lower case (`bücher.example` is `xn--bcher-kva.example`), so
// that either form routes and either may be written in the config. Postfix compares them as
// written and asks for both forms in its tables (SMTPUTF8_README); one entry here covers both.
import { domainToASCII } from 'node:url'
import type { SectionReader } from './section-reader.js'

const DOMAIN = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/
/** Any character beyond ASCII (a UTF-16 unit of U+0080 or above). */
const NON_ASCII = /[\u0080-\uffff]/

/**
 * A domain in the form the routing table compares: lower case, U-labels as A-labels (UTS 46, as
 * @haraka/email-address converts a recipient's domain). Undefined for a name that has no A-label
 * form (an invalid internationalised name).
 */
export function asciiDomain(domain: string): string | undefined {
  // Most domains are ASCII: lower case is their A-label form, without the cost of a conversion.
  if (!NON_ASCII.test(domain)) return domain.toLowerCase()
  const ascii = domainToASCII(domain)
  return ascii === '' ? undefined : ascii
}

/** A domain in A-label form, lower-cased, as asciiDomain() gives it. */
export function isDomain(entry: string): boolean {
  return DOMAIN.test(entry)
}

/** A `domain` entry in A-label form: a domain, `*.domain` or `*`. */
export function isDomainEntry(entry: string): boolean {
  return entry === '*' || isDomain(entry.startsWith('*.') ? entry.slice(2) : entry)
}

/**
 * `domain = a.example, b.example` or `domain[] = a.example` lines, each once, in the form that
 * asciiDomain() gives (`*.bücher.example` becomes `*.xn--bcher-kva.example`).
 */
export function readDomains(reader: SectionReader): string[] {
  const domains: string[] = []
  for (const written of reader.list('domain')) {
    const wildcard = written.startsWith('*.') ? '*.' : ''
    const ascii = written === '*' ? '*' : asciiDomain(written.slice(wildcard.length))
    const entry = ascii === undefined || ascii === '*' ? ascii : `${wildcard}${ascii}`
    if (entry === undefined || !isDomainEntry(entry))
      reader.fail('domain', `"${written}" is not a domain, "*.domain" or "*"`)
    else domains.push(entry)
  }
  const seen = new Set<string>()
  for (const domain of domains) {
    if (seen.has(domain)) reader.fail('domain', `${domain} is listed twice`)
    seen.add(domain)
  }
  return [...seen]
}
