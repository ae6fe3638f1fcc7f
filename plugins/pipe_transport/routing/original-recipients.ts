// The address each recipient had when the client sent it (`${original_recipient}`). A rcpt plugin
// such as haraka-plugin-aliases replaces the candidate in transaction.rcpt_to (and may turn one
// into several) before the recipient is accepted; pipe_transport notes the client's address in a
// rcpt hook that runs before every other, and ties it to what was accepted once rcpt_ok runs.
import type { HarakaAddress, HarakaTransaction } from '../types/haraka-types.js'

/** The RCPT command in progress: what the client gave, and where its recipients start in rcpt_to. */
interface PendingRcpt {
  readonly original: HarakaAddress
  readonly index: number
}

const pending = new WeakMap<HarakaTransaction, PendingRcpt>()
const originals = new WeakMap<HarakaAddress, HarakaAddress>()

/** At RCPT, before any plugin rewrote it: the candidate is the last of rcpt_to. */
export function noteRcptCommand(transaction: HarakaTransaction, candidate: HarakaAddress): void {
  pending.set(transaction, { original: candidate, index: transaction.rcpt_to.length - 1 })
}

/**
 * At rcpt_ok: the recipients that this RCPT command put into rcpt_to (one, or several when an
 * alias expanded to a list), each now tied to the client's address.
 */
export function acceptedFromRcptCommand(transaction: HarakaTransaction): HarakaAddress[] {
  const command = pending.get(transaction)
  pending.delete(transaction)
  const last = transaction.rcpt_to.length - 1
  // Without a note (a plugin replaced the transaction's list meanwhile), the last one is the candidate.
  const start = command !== undefined && command.index <= last ? command.index : last
  const accepted = transaction.rcpt_to.slice(start)
  for (const address of accepted) originals.set(address, command?.original ?? address)
  return accepted
}

/** The client's address for a recipient; the recipient itself when no plugin replaced it. */
export function originalOf(address: HarakaAddress): HarakaAddress {
  return originals.get(address) ?? address
}
