// Recipients for unit tests, made from real @haraka/email-address addresses as Haraka makes them.
import { Address } from '@haraka/email-address'
import { addressParts } from '../../plugins/pipe_transport/routing/address-parts.js'
import { envelopeOf, type Envelope } from '../../plugins/pipe_transport/invocation/envelope.js'
import { recipientOf, type Recipient } from '../../plugins/pipe_transport/routing/recipient.js'
import type { HarakaConnection, HarakaTransaction } from '../../plugins/pipe_transport/types/haraka-types.js'

export interface RecipientFixture {
  readonly delimiter?: string
  readonly original?: string
  readonly routeData?: string
  readonly lowercaseLocalPart?: boolean
}

/** The recipient for `address` (as it appears inside `<...>` at RCPT). */
export function recipient(address: string, fixture: RecipientFixture = {}): Recipient {
  const parts = addressParts(new Address(`<${address}>`), fixture.delimiter)
  const original =
    fixture.original === undefined ? parts : addressParts(new Address(`<${fixture.original}>`), fixture.delimiter)
  return recipientOf(parts, original, {
    routeData: fixture.routeData ?? '',
    lowercaseLocalPart: fixture.lowercaseLocalPart ?? false,
  })
}

export function envelopeFor(recipients: readonly Recipient[], sender = 's@x.test'): Envelope {
  return {
    sender,
    senderHeaderAddress: sender,
    recipients,
    queueId: 'Q1.1',
    clientAddress: '127.0.0.1',
    clientHelo: 'client.test',
    saslUsername: '',
    size: undefined,
    envid: '',
    deliveryIds: new Map(),
    deliveredToHeaders: [],
  }
}

/**
 * The envelope envelopeOf() takes from Haraka for a sender as the client wrote it at MAIL FROM
 * (inside `<...>`; empty for the null sender), with these recipients.
 */
export function envelopeFromMailFrom(mailFrom: string, recipients: readonly Recipient[]): Envelope {
  const connection = { remote: { ip: '127.0.0.1' }, hello: { host: 'client.test' }, notes: {} } as HarakaConnection
  const transaction = {
    mail_from: new Address(`<${mailFrom}>`),
    uuid: 'Q1.1',
    header: { get_all: () => [] },
  } as unknown as HarakaTransaction
  return { ...envelopeOf(connection, transaction), recipients }
}
