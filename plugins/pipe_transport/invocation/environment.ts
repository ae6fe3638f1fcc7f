// The program's environment is built from nothing: Haraka's own environment (secrets, NODE_*,
// HOME of the service user) never reaches it.
import type { Envelope } from './envelope.js'

export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'

/** Names the plugin sets from the transaction; an `[NAME.env]` section may not override them. */
export const TRANSACTION_VARIABLES = [
  'SENDER',
  'RECIPIENT',
  'LOCAL',
  'DOMAIN',
  'QUEUE_ID',
  'CLIENT_ADDRESS',
  'CLIENT_HELO',
  'INSTANCE',
] as const

export function programEnvironment(
  envelope: Envelope,
  instance: string,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  const first = envelope.recipients[0]
  return {
    PATH: DEFAULT_PATH,
    ...extra,
    SENDER: envelope.sender,
    RECIPIENT: first?.address ?? '',
    LOCAL: first?.user ?? '',
    DOMAIN: first?.domain ?? '',
    QUEUE_ID: envelope.queueId,
    CLIENT_ADDRESS: envelope.clientAddress,
    CLIENT_HELO: envelope.clientHelo,
    INSTANCE: instance,
  }
}
