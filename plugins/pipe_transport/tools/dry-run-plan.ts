// What --dry-run prints, worked out from the settings alone by the live path's own functions: what
// RCPT answers each recipient (routing/rcpt-policy.ts, as rcpt/ asks it), the runs the accepted
// recipients make (queue/plan-runs.ts), and each run's argv and environment (invocation/).
import type { Envelope } from '../invocation/envelope.js'
import { programSpec, type ProgramSpec } from '../invocation/program-spec.js'
import { oncePerMailbox, planRuns } from '../queue/plan-runs.js'
import { rcptDecisions, splitRouted, type RcptDecision } from '../routing/rcpt-policy.js'
import { routeRecipient, type AddressRoute } from '../routing/route-recipient.js'
import type { Instance, Settings } from '../settings/vocabulary.js'
import type { HarakaAddress } from '../types/haraka-types.js'
import type { Result } from '../util/result.js'

export interface TriedRecipient {
  readonly route: AddressRoute
  /** `continue`: pipe_transport lets it through, to its route or to Haraka's other plugins. */
  readonly decision: RcptDecision
}

export interface TriedRun {
  readonly instance: Instance
  /** The transaction with the recipients this run delivers. */
  readonly envelope: Envelope
  readonly spec: Result<ProgramSpec>
}

export interface TryPlan {
  readonly recipients: readonly TriedRecipient[]
  /** Empty when no accepted recipient is routed: other queue plugins' mail. */
  readonly runs: readonly TriedRun[]
}

/**
 * The plan for `addresses` sent in that order at RCPT, as if every recipient pipe_transport lets
 * through were accepted (by Haraka's other rcpt plugins, for those it does not route).
 */
export function planTry(
  settings: Settings,
  envelope: Omit<Envelope, 'recipients'>,
  addresses: readonly HarakaAddress[],
): TryPlan {
  const routes = addresses.map((address) => routeRecipient(settings, address))
  const decisions = rcptDecisions(routes, { sender: envelope.sender, firstAccepted: undefined, queueWants: undefined })
  const recipients = routes.map((route, index): TriedRecipient => ({
    route,
    decision: decisions[index] ?? { kind: 'continue' },
  }))
  const accepted = recipients.filter(({ decision }) => decision.kind === 'continue').map(({ route }) => route)
  const runs = planRuns(oncePerMailbox(splitRouted(accepted).routed)).map(({ instance, recipients: runRecipients }) => {
    // A delivery id needs the message itself, which only a live try has.
    const deliveryIds = new Map(runRecipients.map((recipient) => [recipient, '<delivery id>']))
    const runEnvelope: Envelope = { ...envelope, recipients: runRecipients, deliveryIds }
    return { instance, envelope: runEnvelope, spec: programSpec(instance, runEnvelope, 'delivery') }
  })
  return { recipients, runs }
}
