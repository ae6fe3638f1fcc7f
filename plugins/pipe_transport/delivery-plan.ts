// What a transaction's delivery does, worked out from the settings alone: what RCPT answers each
// recipient, and the program run for those accepted, with its argv, environment and reply table.
// The queue hook's delivery (delivery.ts) takes its argv and environment from here, and the try
// command's --dry-run prints the whole plan, so what --dry-run shows is what runs.
import { expandArguments } from './invocation/arguments.js'
import type { Envelope, Recipient } from './invocation/envelope.js'
import { programEnvironment } from './invocation/environment.js'
import { rcptDecision, type RcptDecision } from './routing/rcpt-policy.js'
import type { Instance, Settings } from './settings/settings.js'

/** The program's argv (after `program_name`) and environment, or why it must not run. */
export type Invocation = { readonly argv: readonly string[]; readonly env: Readonly<Record<string, string>> } | { readonly refused: string }

export function invocationFor(instance: Instance, envelope: Envelope): Invocation {
  const expanded = expandArguments(instance.arguments, { envelope, instance: instance.name })
  if ('refused' in expanded) return expanded
  return { argv: expanded.argv, env: programEnvironment(envelope, instance.name, instance.env) }
}

export interface PlannedRecipient {
  readonly recipient: Recipient
  /** The instance that routes it, if any. */
  readonly route: Instance | undefined
  /** `continue`: pipe_transport lets it through, to its route or to Haraka's other plugins. */
  readonly decision: RcptDecision
}

export interface PlannedRun {
  readonly instance: Instance
  /** The transaction with the recipients this run delivers. */
  readonly envelope: Envelope
  readonly invocation: Invocation
}

export interface DeliveryPlan {
  readonly recipients: readonly PlannedRecipient[]
  /** Empty when no accepted recipient is routed: other queue plugins' mail. */
  readonly runs: readonly PlannedRun[]
}

/**
 * The plan for `envelope.recipients` sent in that order, as if every recipient pipe_transport lets
 * through were accepted (by Haraka's other rcpt plugins, for those it does not route).
 */
export function planDelivery(settings: Settings, envelope: Envelope): DeliveryPlan {
  const accepted: Recipient[] = []
  const recipients = envelope.recipients.map((recipient): PlannedRecipient => {
    const decision = rcptDecision(settings, recipient, {
      sender: envelope.sender,
      acceptedDomains: accepted.map((earlier) => earlier.domain),
      queueWants: undefined,
    })
    if (decision.kind === 'continue') accepted.push(recipient)
    return { recipient, route: settings.routes.lookup(recipient.domain), decision }
  })
  // RCPT defers every recipient whose route differs from the first accepted one's.
  const instance = accepted[0] && settings.routes.lookup(accepted[0].domain)
  if (!instance) return { recipients, runs: [] }
  const delivered = { ...envelope, recipients: accepted }
  return { recipients, runs: [{ instance, envelope: delivered, invocation: invocationFor(instance, delivered) }] }
}
