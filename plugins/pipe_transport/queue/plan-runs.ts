// Which program runs a transaction takes. Haraka gives one reply to a transaction, so every
// recipient pipe_transport routes is accepted, whatever its instance, and delivered here at once:
// grouped by instance and by what would make their runs differ, then cut into runs of at most
// recipient_limit recipients (Postfix's _destination_recipient_limit), in the client's order.
import type { RoutedRecipient } from '../routing/rcpt-policy.js'
import type { Recipient } from '../routing/recipient.js'
import { usesRecipientMacros } from '../settings/templates.js'
import type { Instance } from '../settings/vocabulary.js'

export interface PlannedRun {
  readonly instance: Instance
  readonly recipients: readonly Recipient[]
}

/** The same mailbox twice in a transaction (twice at RCPT, or twice after an alias) gets the message once. */
export function oncePerMailbox(routed: readonly RoutedRecipient[]): RoutedRecipient[] {
  const seen = new Set<string>()
  return routed.filter(({ recipient }) => {
    const mailbox = recipient.address.toLowerCase()
    if (seen.has(mailbox)) return false
    seen.add(mailbox)
    return true
  })
}

/**
 * Recipients share a run when they share an instance and its route data: argv words that do not
 * repeat per recipient hold `${route_data}` at most, so those words are then the same. An
 * `[NAME.env]` value with a recipient macro describes one recipient, so such an instance runs
 * each recipient alone.
 */
export function planRuns(routed: readonly RoutedRecipient[]): PlannedRun[] {
  const groups = new Map<string, { instance: Instance; recipients: Recipient[] }>()
  for (const { instance, recipient } of routed) {
    const alone = Object.values(instance.env).some(usesRecipientMacros) ? recipient.address : ''
    const key = JSON.stringify([instance.name, recipient.routeData, alone])
    const group = groups.get(key) ?? { instance, recipients: [] }
    group.recipients.push(recipient)
    groups.set(key, group)
  }
  const runs: PlannedRun[] = []
  for (const { instance, recipients } of groups.values()) {
    const limit = instance.recipientLimit ?? recipients.length
    for (let start = 0; start < recipients.length; start += limit)
      runs.push({ instance, recipients: recipients.slice(start, start + limit) })
  }
  return runs
}
