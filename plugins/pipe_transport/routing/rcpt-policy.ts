// What the plugin says at RCPT, before any data is taken, from the settings alone: the live rcpt
// hook (rcpt/) and the try command's --dry-run both ask here. pipe_transport delivers every
// recipient it routes in one transaction, whatever instance each goes to, and answers once. What
// it cannot share a transaction with is a recipient for another queue plugin (an unrouted one, or
// one another plugin claimed through `queue.wants`): those are deferred with 452 4.5.3, and the
// client sends them in a later transaction. Addresses that could become program options are
// refused here too.
import type { Instance, Settings } from '../settings/vocabulary.js'
import type { HarakaAddress } from '../types/haraka-types.js'
import type { Recipient } from './recipient.js'
import { routeRecipient, type AddressRoute } from './route-recipient.js'

/** An answer at RCPT with an enhanced code. */
export interface RcptRefusal {
  readonly kind: 'deny' | 'denysoft'
  readonly code: number
  readonly subject: number
  readonly detail: number
  readonly text: string
}

/** `continue` lets the other rcpt plugins decide. */
export type RcptDecision = { readonly kind: 'continue' } | RcptRefusal

/** A refusal as the client reads it, `452 4.5.3 text`: for the log and the try command. */
export function refusalLine({ code, subject, detail, text }: RcptRefusal): string {
  return `${code} ${Math.floor(code / 100)}.${subject}.${detail} ${text}`
}

export interface RcptContext {
  /** `${sender}`: empty for the null sender. */
  readonly sender: string
  /** The first recipient accepted in this transaction: routed or not, it sets which queue plugin takes it. */
  readonly firstAccepted: AddressRoute | undefined
  /** The transaction's `queue.wants` note, if any plugin set it. */
  readonly queueWants: unknown
}

export const QUEUE_NAME = 'pipe_transport'
export const CONTINUE: RcptDecision = { kind: 'continue' }

/**
 * The answers to recipients given in this order (the recipients of one RCPT command, or of a whole
 * transaction's): each one that is let through may become the transaction's first accepted.
 */
export function rcptDecisions(routes: readonly AddressRoute[], context: RcptContext): RcptDecision[] {
  let firstAccepted = context.firstAccepted
  return routes.map((route) => {
    const decision = rcptDecision(route, { ...context, firstAccepted })
    if (decision.kind === 'continue') firstAccepted ??= route
    return decision
  })
}

export function rcptDecision(candidate: AddressRoute, context: RcptContext): RcptDecision {
  const { match, recipient } = candidate
  const first = context.firstAccepted
  if (first !== undefined && (first.match === undefined) !== (match === undefined)) {
    return later(`${candidate.address} is delivered separately from ${first.address}, send it in another transaction`)
  }
  if (!match || !recipient) return CONTINUE
  if (context.queueWants && context.queueWants !== QUEUE_NAME) {
    const other = typeof context.queueWants === 'string' ? context.queueWants : 'another queue plugin'
    return later(`${candidate.address} is delivered separately from what ${other} delivers`)
  }
  if (wouldBeOption(recipient))
    return refuse(1, 3, 'pipe transport refuses a recipient that would start a program argument with "-"')
  if (context.sender.startsWith('-')) return refuse(1, 7, 'pipe transport refuses a sender that starts with "-"')
  return CONTINUE
}

/** With enable_outbound = false, relayed transactions (authenticated or relay-listed clients) are Haraka outbound's, not ours. */
export function servesConnection(settings: Settings, relaying: boolean): boolean {
  return !relaying || settings.enableOutbound
}

/** check_recipient: the instance that accepts this recipient at RCPT by itself, so that it needs no other rcpt plugin. */
export function acceptingInstance(settings: Settings, address: HarakaAddress): Instance | undefined {
  const instance = routeRecipient(settings, address).match?.instance
  return instance?.acceptsAtRcpt ? instance : undefined
}

/** True when this recipient is routed here: the transaction is then claimed for this queue plugin (queue.wants). */
export function isRouted(settings: Settings, address: HarakaAddress): boolean {
  return routeRecipient(settings, address).match !== undefined
}

/** A recipient this plugin delivers, and the instance that does. */
export interface RoutedRecipient {
  readonly instance: Instance
  readonly recipient: Recipient
}

/** A transaction's recipients, split into those this plugin delivers and the addresses it does not route. */
export function splitRouted(routes: readonly AddressRoute[]): { routed: RoutedRecipient[]; unrouted: string[] } {
  const routed: RoutedRecipient[] = []
  const unrouted: string[] = []
  for (const { address, match, recipient } of routes) {
    if (match && recipient) routed.push({ instance: match.instance, recipient })
    else unrouted.push(address)
  }
  return { routed, unrouted }
}

/**
 * A recipient macro value that starts with "-" could become an option of the program, whatever
 * the arguments look like today: `"-oQ/tmp/x"@example.com` (its unquoted local part), or an
 * extension such as `alice+-x`. Refused before any data is taken.
 */
function wouldBeOption(recipient: Recipient): boolean {
  return [recipient.address, recipient.user, recipient.extension, recipient.originalRecipient].some((value) =>
    value.startsWith('-'),
  )
}

function later(text: string): RcptDecision {
  return { kind: 'denysoft', code: 452, subject: 5, detail: 3, text }
}

function refuse(subject: number, detail: number, text: string): RcptDecision {
  return { kind: 'deny', code: 550, subject, detail, text }
}
