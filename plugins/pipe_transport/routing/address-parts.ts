// An address in the parts that routing and the macros use: the local part as the mailbox means
// it, its extension, and the domain. SMTP may quote a local part (`"john smith"@example.com`); a
// program wants the mailbox itself (`john smith`), the form Postfix hands to pipe(8). Headers
// that name an address quote it again.
import { asciiDomain } from '../settings/domains.js'
import type { HarakaAddress } from '../types/haraka-types.js'

export interface AddressParts extends SplitLocalPart {
  /** The whole local part, unquoted. */
  readonly local: string
  /** The domain in lower case; empty for an address without one (`<postmaster>`). */
  readonly domain: string
  /** The domain as the client wrote it. */
  readonly host: string
}

export function addressParts(address: HarakaAddress, delimiters: string | undefined): AddressParts {
  const local = unquoteLocalPart(address.user)
  const at = address.address.lastIndexOf('@')
  const host = at < 0 ? '' : address.address.slice(at + 1)
  return { local, domain: host.toLowerCase(), host, ...splitExtension(local, delimiters) }
}

/** `"john smith"` -> `john smith`, `"a\"b"` -> `a"b`; an unquoted local part is returned as it is. */
export function unquoteLocalPart(local: string): string {
  if (local.length < 2 || !local.startsWith('"') || !local.endsWith('"')) return local
  return local.slice(1, -1).replace(/\\(.)/g, '$1')
}

/**
 * RFC 5322's dot-atom, with RFC 6532's UTF-8 among its characters: what may stand in a header
 * without quotes. `müller@example.com` is written as it is, as Postfix writes it.
 */
const DOT_ATOM =
  /^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[\u0080-\uffff])+(?:\.(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[\u0080-\uffff])+)*$/

/** The local part as a header writes it: quoted (with `"` and `\` escaped) unless it is a dot-atom. */
export function quoteLocalPart(local: string): string {
  return DOT_ATOM.test(local) ? local : `"${local.replace(/(["\\])/g, '\\$1')}"`
}

/**
 * An address as a header or the envelope may write it, in one form for comparing: the local part
 * unquoted and in lower case, the domain as asciiDomain() gives it. `"Müller"@Bücher.example` and
 * `müller@xn--bcher-kva.example` are the same.
 */
export function comparableAddress(text: string): string {
  const trimmed = text.trim()
  const address = trimmed.startsWith('<') && trimmed.endsWith('>') ? trimmed.slice(1, -1) : trimmed
  const at = address.lastIndexOf('@')
  if (at < 0) return unquoteLocalPart(address).toLowerCase()
  const domain = address.slice(at + 1)
  return `${unquoteLocalPart(address.slice(0, at)).toLowerCase()}@${asciiDomain(domain) ?? domain.toLowerCase()}`
}

/** `local@domain` with the local part as it is: the form the macros give (Postfix's internal form). */
export function plainAddress(local: string, domain: string): string {
  return domain === '' ? local : `${local}@${domain}`
}

/** `local@domain` as a header writes it. */
export function headerAddress(local: string, domain: string): string {
  return plainAddress(quoteLocalPart(local), domain)
}

export interface SplitLocalPart {
  /** The local part without its extension (the whole local part when it has none). */
  readonly user: string
  /** The text after the first delimiter; empty when there is none. */
  readonly extension: string
  /** True when a delimiter was found, so that `user` differs from the whole local part. */
  readonly extended: boolean
}

/**
 * Splits off the address extension at the first of the `recipient_delimiter` characters, with
 * Postfix's rules (split_addr.c): a local part that starts with a delimiter is not split, nor are
 * postmaster and mailer-daemon, nor (when `-` is a delimiter) owner-* and *-request, which are
 * mailing-list names older than extensions.
 */
export function splitExtension(local: string, delimiters: string | undefined): SplitLocalPart {
  const whole: SplitLocalPart = { user: local, extension: '', extended: false }
  if (delimiters === undefined || delimiters === '') return whole
  const lower = local.toLowerCase()
  if (lower === 'postmaster' || lower === 'mailer-daemon') return whole
  if (delimiters.includes('-') && (lower.startsWith('owner-') || (lower.length > 8 && lower.endsWith('-request'))))
    return whole
  let at = -1
  for (let i = 0; i < local.length; i++) {
    if (delimiters.includes(local.charAt(i))) {
      at = i
      break
    }
  }
  if (at <= 0) return whole
  return { user: local.slice(0, at), extension: local.slice(at + 1), extended: true }
}
