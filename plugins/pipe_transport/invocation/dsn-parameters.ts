// What the client asked of delivery status notifications (RFC 3461): RET and ENVID on MAIL FROM,
// NOTIFY and ORCPT on each RCPT TO. Haraka 3.3 parses every ESMTP parameter and hands them to the
// mail and rcpt hooks, but keeps none of them, and it does not advertise DSN in its EHLO reply: a
// conforming client sends them only where some plugin advertises DSN, and some clients send them
// anyway. Where they come, they are noted here and honoured (`${envid}`, and the DSN after a
// partial failure).
import type { HarakaAddress, HarakaTransaction } from '../types/haraka-types.js'

/** Haraka's parse of a command's parameters: upper-cased keywords, a value or null. */
export type EsmtpParameters = Readonly<Record<string, string | null | undefined>>

export interface MailParameters {
  /** RET: return the whole message (FULL) or its headers (HDRS) in a DSN; undefined when not asked. */
  readonly ret: 'FULL' | 'HDRS' | undefined
  /** ENVID, decoded from xtext; empty when not given. */
  readonly envid: string
}

export interface RcptParameters {
  /** NOTIFY: NEVER, or which of SUCCESS, FAILURE and DELAY; undefined when not given (failures are reported). */
  readonly notify: ReadonlySet<'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY'> | undefined
  /** ORCPT: the original recipient as the first sender gave it, decoded from xtext. */
  readonly orcpt: { readonly type: string; readonly address: string } | undefined
}

const NONE_FOR_MAIL: MailParameters = { ret: undefined, envid: '' }
export const NO_RCPT_PARAMETERS: RcptParameters = { notify: undefined, orcpt: undefined }

/** RFC 3461 4.4 bounds ENVID at 100 characters, 4.2 ORCPT at 500. */
const ENVID_MAX = 100
const ORCPT_MAX = 500

const mailParameters = new WeakMap<HarakaTransaction, MailParameters>()
const rcptParameters = new WeakMap<HarakaAddress, RcptParameters>()

/** At MAIL FROM, in a hook before every other. */
export function noteMailParameters(transaction: HarakaTransaction, parameters: EsmtpParameters | undefined): void {
  const ret = parameters?.['RET']?.toUpperCase()
  const envid = parameters?.['ENVID']
  mailParameters.set(transaction, {
    ret: ret === 'FULL' || ret === 'HDRS' ? ret : undefined,
    envid: typeof envid === 'string' ? printable(decodeXtext(envid)).slice(0, ENVID_MAX) : '',
  })
}

/** At RCPT TO, for the address the client gave (before any plugin rewrote it). */
export function noteRcptParameters(address: HarakaAddress, parameters: EsmtpParameters | undefined): void {
  const notify = parameters?.['NOTIFY']
  const orcpt = parameters?.['ORCPT']
  if (typeof notify !== 'string' && typeof orcpt !== 'string') return
  rcptParameters.set(address, { notify: parseNotify(notify), orcpt: parseOrcpt(orcpt) })
}

export function mailParametersOf(transaction: HarakaTransaction): MailParameters {
  return mailParameters.get(transaction) ?? NONE_FOR_MAIL
}

/** `original`: the address as the client gave it at RCPT (routing/original-recipients.ts). */
export function rcptParametersOf(original: HarakaAddress): RcptParameters {
  return rcptParameters.get(original) ?? NO_RCPT_PARAMETERS
}

/** NOTIFY=NEVER, or a list of the three others; anything else is read as not given. */
function parseNotify(value: string | null | undefined): RcptParameters['notify'] {
  if (typeof value !== 'string') return undefined
  const words = value.toUpperCase().split(',')
  if (words.length === 1 && words[0] === 'NEVER') return new Set(['NEVER'])
  const known = words.filter((word) => word === 'SUCCESS' || word === 'FAILURE' || word === 'DELAY')
  return known.length === words.length ? new Set(known) : undefined
}

/** `rfc822;a+2Bb@example.com`: an address type, then the address in xtext. */
function parseOrcpt(value: string | null | undefined): RcptParameters['orcpt'] {
  if (typeof value !== 'string') return undefined
  const match = /^([A-Za-z0-9-]+);(.+)$/.exec(value.slice(0, ORCPT_MAX))
  const type = match?.[1]
  const address = match?.[2]
  if (type === undefined || address === undefined) return undefined
  return { type: type.toLowerCase(), address: printable(decodeXtext(address)) }
}

/** RFC 3461 4: `+` and two upper-case hex digits stand for one character. */
function decodeXtext(text: string): string {
  return text.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

/** What may go into a header field or an environment variable: printable ASCII and spaces. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '')
}
