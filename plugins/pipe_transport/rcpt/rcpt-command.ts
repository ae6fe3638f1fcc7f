// The answer to one RCPT command, at rcpt_ok: the same decision as --dry-run's (routing/
// rcpt-policy.ts) for each recipient the command added (one, or several when an alias expanded it),
// then 451 where an instance's circuit breaker is open, then check_program for those whose
// instance has one.
import { circuitAdmits } from '../circuit/circuit-breaker.js'
import { envelopeOf, type Envelope } from '../invocation/envelope.js'
import { countCircuitRejections } from '../metrics/delivery-metrics.js'
import { acceptedFromRcptCommand, originalOf } from '../routing/original-recipients.js'
import {
  CONTINUE,
  QUEUE_NAME,
  acceptingInstance,
  isRouted,
  rcptDecisions,
  servesConnection,
  type RcptDecision,
  type RcptRefusal,
} from '../routing/rcpt-policy.js'
import { senderOf } from '../routing/recipient.js'
import { routeRecipient } from '../routing/route-recipient.js'
import type { Instance, Settings } from '../settings/vocabulary.js'
import type { HarakaAddress, HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'
import { checkRecipient, type CheckReport } from './check-program.js'

export interface RcptCommandAnswer {
  readonly decision: RcptDecision
  /** The checks that ran for it, for the log. */
  readonly checks: readonly CheckReport[]
}

/** What RCPT answers when the plugin itself failed: the sender tries again later. */
export const CHECK_FAILED: RcptRefusal = {
  kind: 'denysoft',
  code: 450,
  subject: 3,
  detail: 0,
  text: 'pipe transport cannot check this recipient now, try again later',
}

/** While an instance's circuit breaker is open (circuit/): before any data is sent, the sender tries later. */
export function circuitOpenAtRcpt(address: string): RcptRefusal {
  return {
    kind: 'denysoft',
    code: 451,
    subject: 3,
    detail: 0,
    text: `${address}: delivery temporarily unavailable, try again later`,
  }
}

/**
 * At rcpt_ok. On a refusal the recipients this command added are taken out of rcpt_to again, but
 * the last: Haraka takes that one back itself.
 */
export async function answerRcptCommand(settings: Settings, connection: HarakaConnection): Promise<RcptCommandAnswer> {
  const transaction = connection.transaction
  if (!transaction) return { decision: CONTINUE, checks: [] }
  const candidates = acceptedFromRcptCommand(transaction)
  if (!servesConnection(settings, connection.relaying)) return { decision: CONTINUE, checks: [] }
  return answerCandidates(settings, connection, transaction, candidates)
}

async function answerCandidates(
  settings: Settings,
  connection: HarakaConnection,
  transaction: HarakaTransaction,
  candidates: readonly HarakaAddress[],
): Promise<RcptCommandAnswer> {
  const start = transaction.rcpt_to.length - candidates.length
  const refuse = (decision: RcptRefusal, checks: readonly CheckReport[]): RcptCommandAnswer => {
    transaction.rcpt_to.splice(start, candidates.length - 1)
    return { decision, checks }
  }
  const first = transaction.rcpt_to[0]
  const routes = candidates.map((candidate) => routeRecipient(settings, candidate, originalOf(candidate)))
  const decisions = rcptDecisions(routes, {
    sender: senderOf(transaction.mail_from),
    firstAccepted: start > 0 && first ? routeRecipient(settings, first, originalOf(first)) : undefined,
    queueWants: transaction.notes.get('queue.wants'),
  })
  const refused = decisions.find((decision): decision is RcptRefusal => decision.kind !== 'continue')
  if (refused) return refuse(refused, [])
  const unavailable = routes.find(({ match }) => match && !circuitAdmits(match.instance, match.data))
  if (unavailable?.match) {
    countCircuitRejections(unavailable.match.instance.name, 'rcpt', candidates.length)
    return refuse(circuitOpenAtRcpt(unavailable.address), [])
  }

  let envelope: Omit<Envelope, 'recipients'> | undefined
  const checks = routes.flatMap(({ match, recipient }) => {
    const check = match?.instance.checkProgram
    if (!check || !recipient) return []
    envelope ??= envelopeOf(connection, transaction)
    return [checkRecipient(match.instance, check, recipient, envelope)]
  })
  const reports = await Promise.all(checks)
  const unknown = reports
    .map((report) => report.decision)
    .find((decision): decision is RcptRefusal => decision.kind !== 'continue')
  return unknown ? refuse(unknown, reports) : { decision: CONTINUE, checks: reports }
}

/** check_recipient, at rcpt: the instance that accepts this recipient itself, if any. */
export function acceptsAtRcpt(
  settings: Settings,
  connection: HarakaConnection,
  address: HarakaAddress,
): Instance | undefined {
  return servesConnection(settings, connection.relaying) ? acceptingInstance(settings, address) : undefined
}

/** At rcpt_ok: a routed recipient claims the transaction, so that other queue plugins leave it to this one. */
export function claimQueue(settings: Settings, connection: HarakaConnection, address: HarakaAddress): void {
  const notes = connection.transaction?.notes
  if (!notes || notes.get('queue.wants') || !servesConnection(settings, connection.relaying)) return
  if (isRouted(settings, address)) notes.set('queue.wants', QUEUE_NAME)
}
