// What a transaction's delivery does, worked out from the settings alone: what RCPT answers each
// recipient, the runs its accepted recipients make (transaction/plan-runs.ts), and each run's
// argv, environment and reply table. delivery.ts takes its argv and environment from here, and
// the try command's --dry-run prints the whole plan, so what --dry-run shows is what runs.
import { expandArguments, type WordTemplate } from '../invocation/arguments.js'
import type { Envelope } from '../invocation/envelope.js'
import { programEnvironment } from '../invocation/environment.js'
import { rcptDecision, type RcptDecision, type RoutedAddress } from '../routing/rcpt-policy.js'
import { routeRecipient } from '../routing/route-recipient.js'
import type { Instance, Settings } from '../settings/settings.js'
import { oncePerMailbox, planRuns } from '../queue/plan-runs.js'
import type { HarakaAddress } from '../types/haraka-types.js'

/** The program's argv (after `program_name`) and environment, or why it must not run. */
export type Invocation = { readonly argv: readonly string[]; readonly env: Readonly<Record<string, string>> } | { readonly refused: string }

/** For the instance's `arguments`, or for other words run in its name (check_program's `check_arguments`). */
export function invocationFor(instance: Instance, envelope: Envelope, words: readonly WordTemplate[] = instance.arguments): Invocation {
  const expanded = expandArguments(words, { envelope, instance: instance.name })
  if ('refused' in expanded) return expanded
  return { argv: expanded.argv, env: programEnvironment(envelope, instance.name, instance.env) }
}

export interface PlannedRecipient {
  readonly routed: RoutedAddress
  /** `continue`: pipe_transport lets it through, to its route or to Haraka's other plugins. */
  readonly decision: RcptDecision
}

export interface PlannedInvocation {
  readonly instance: Instance
  /** The transaction with the recipients this run delivers. */
  readonly envelope: Envelope
  readonly invocation: Invocation
}

export interface DeliveryPlan {
  readonly recipients: readonly PlannedRecipient[]
  /** Empty when no accepted recipient is routed: other queue plugins' mail. */
  readonly runs: readonly PlannedInvocation[]
}

/**
 * The plan for `addresses` sent in that order at RCPT, as if every recipient pipe_transport lets
 * through were accepted (by Haraka's other rcpt plugins, for those it does not route).
 */
export function planDelivery(settings: Settings, envelope: Omit<Envelope, 'recipients'>, addresses: readonly HarakaAddress[]): DeliveryPlan {
  let firstAccepted: RoutedAddress | undefined
  const recipients = addresses.map((address): PlannedRecipient => {
    const routed = routeRecipient(settings, address)
    const decision = rcptDecision(routed, { sender: envelope.sender, firstAccepted, queueWants: undefined })
    if (decision.kind === 'continue') firstAccepted ??= routed
    return { routed, decision }
  })
  const ours = recipients.flatMap(({ routed: { match, recipient }, decision }) =>
    decision.kind === 'continue' && match && recipient ? [{ instance: match.route, recipient }] : [],
  )
  const runs = planRuns(oncePerMailbox(ours)).map(({ instance, recipients: runRecipients }) => {
    const runEnvelope: Envelope = { ...envelope, recipients: runRecipients }
    return { instance, envelope: runEnvelope, invocation: invocationFor(instance, runEnvelope) }
  })
  return { recipients, runs }
}
