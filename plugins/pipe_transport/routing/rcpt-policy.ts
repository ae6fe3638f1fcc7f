// What the plugin says at RCPT, before any data is taken. A transaction gets one reply at the
// queue hook, so a transaction must have one route: recipients for another route (another
// instance, or no instance at all) are deferred with 452 4.5.3 and the client sends them in a
// later transaction. Addresses that could become program options are refused here too.
import type { Instance, Settings } from '../settings/settings.js'

/** `continue` lets the other rcpt plugins decide; the others are answers with an enhanced code. */
export type RcptDecision =
  | { readonly kind: 'continue' }
  | { readonly kind: 'deny' | 'denysoft'; readonly code: number; readonly subject: number; readonly detail: number; readonly text: string }

export interface RcptCandidate {
  readonly address: string
  readonly domain: string
}

export interface RcptContext {
  /** Empty for the null sender. */
  readonly sender: string
  /** Domains of the recipients already accepted in this transaction, in order. */
  readonly acceptedDomains: readonly string[]
  /** The transaction's `queue.wants` note, if any plugin set it. */
  readonly queueWants: unknown
}

export const QUEUE_NAME = 'pipe_transport'
const CONTINUE: RcptDecision = { kind: 'continue' }

export function rcptDecision(settings: Settings, candidate: RcptCandidate, context: RcptContext): RcptDecision {
  const route = settings.routes.lookup(candidate.domain)
  const first = context.acceptedDomains[0]
  if (first !== undefined && settings.routes.lookup(first) !== route) {
    return later(`${candidate.address} is delivered separately from ${first}, send it in another transaction`)
  }
  if (!route) return CONTINUE
  if (context.queueWants && context.queueWants !== QUEUE_NAME) {
    return later(`${candidate.address} is delivered separately from what ${String(context.queueWants)} delivers`)
  }
  if (candidate.address.startsWith('-')) return refuse(1, 3, 'pipe transport refuses a recipient that starts with "-"')
  if (context.sender.startsWith('-')) return refuse(1, 7, 'pipe transport refuses a sender that starts with "-"')
  if (route.recipientLimit !== undefined && context.acceptedDomains.length >= route.recipientLimit) {
    return later(`too many recipients for one delivery (${routeLimit(route)}), send the rest in another transaction`)
  }
  return CONTINUE
}

function routeLimit(route: Instance): string {
  return `recipient_limit ${route.recipientLimit} of ${route.name}`
}

function later(text: string): RcptDecision {
  return { kind: 'denysoft', code: 452, subject: 5, detail: 3, text }
}

function refuse(subject: number, detail: number, text: string): RcptDecision {
  return { kind: 'deny', code: 550, subject, detail, text }
}
