// What one delivery knows about its message, taken from Haraka once so that the rest of the
// plugin works on plain data.
import type { HarakaAddress, HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'

export interface Recipient {
  readonly address: string
  readonly user: string
  readonly domain: string
}

export interface Envelope {
  /** Empty for the null sender `<>`. */
  readonly sender: string
  readonly recipients: readonly Recipient[]
  readonly queueId: string
  readonly clientAddress: string
  readonly clientHelo: string
}

export function recipientOf(address: HarakaAddress): Recipient {
  return { address: address.address, user: address.user, domain: address.host.toLowerCase() }
}

export function senderOf(address: HarakaAddress): string {
  return address.isNull() ? '' : address.address
}

export function envelopeOf(
  connection: HarakaConnection,
  transaction: HarakaTransaction,
  recipients: readonly HarakaAddress[],
): Envelope {
  return {
    sender: senderOf(transaction.mail_from),
    recipients: recipients.map(recipientOf),
    queueId: transaction.uuid,
    clientAddress: connection.remote.ip,
    clientHelo: connection.hello.host ?? '',
  }
}
