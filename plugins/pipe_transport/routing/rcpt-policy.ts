// What the plugin says at RCPT, before any data is taken. pipe_transport delivers every
// recipient it routes in one transaction, whatever instance each goes to, and answers once
// (transaction/deliver-transaction.ts). What it cannot share a transaction with is a recipient
// for another queue plugin (an unrouted one, or one another plugin claimed through `queue.wants`):
// those are deferred with 452 4.5.3, and the client sends them in a later transaction. Addresses
// that could become program options are refused here too.
import type { Recipient } from '../invocation/envelope.js'
import type { Instance } from '../settings/settings.js'
import type { RouteMatch } from './route.js'

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

/** A recipient and where it goes: its route, and its macro values when it has one. */
export interface RoutedAddress {
  readonly address: string
  readonly match: RouteMatch<Instance> | undefined
  readonly recipient: Recipient | undefined
}

export interface RcptContext {
  /** `${sender}`: empty for the null sender. */
  readonly sender: string
  /** The first recipient accepted in this transaction: routed or not, it sets which queue plugin takes it. */
  readonly firstAccepted: RoutedAddress | undefined
  /** The transaction's `queue.wants` note, if any plugin set it. */
  readonly queueWants: unknown
}

export const QUEUE_NAME = 'pipe_transport'
const CONTINUE: RcptDecision = { kind: 'continue' }

export function rcptDecision(candidate: RoutedAddress, context: RcptContext): RcptDecision {
  const { match, recipient } = candidate
  const first = context.firstAccepted
  if (first !== undefined && (first.match === undefined) !== (match === undefined)) {
    return later(`${candidate.address} is delivered separately from ${first.address}, send it in another transaction`)
  }
  if (!match || !recipient) return CONTINUE
  if (context.queueWants && context.queueWants !== QUEUE_NAME) {
    return later(`${candidate.address} is delivered separately from what ${String(context.queueWants)} delivers`)
  }
  if (wouldBeOption(recipient)) return refuse(1, 3, 'pipe transport refuses a recipient that would start a program argument with "-"')
  if (context.sender.startsWith('-')) return refuse(1, 7, 'pipe transport refuses a sender that starts with "-"')
  return CONTINUE
}

/**
 * A recipient macro value that starts with "-" could become an option of the program, whatever
 * the arguments look like today: `"-oQ/tmp/x"@example.com` (its unquoted local part), or an
 * extension such as `alice+-x`. Refused before any data is taken.
 */
function wouldBeOption(recipient: Recipient): boolean {
  return [recipient.address, recipient.user, recipient.extension, recipient.originalRecipient].some((value) => value.startsWith('-'))
}

function later(text: string): RcptDecision {
  return { kind: 'denysoft', code: 452, subject: 5, detail: 3, text }
}

function refuse(subject: number, detail: number, text: string): RcptDecision {
  return { kind: 'deny', code: 550, subject, detail, text }
}
