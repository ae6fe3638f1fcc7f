// The program's environment is built from nothing: Haraka's own environment (secrets, NODE_*,
// HOME of the service user) never reaches it.
import { expandTemplate, type Template } from './arguments.js'
import type { Envelope } from './envelope.js'

export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'

/** Names the plugin sets from the transaction; an `[NAME.env]` section may not override them. */
export const TRANSACTION_VARIABLES = [
  'SENDER',
  'RECIPIENT',
  'LOCAL',
  'USER',
  'EXTENSION',
  'DOMAIN',
  'ORIGINAL_RECIPIENT',
  'ROUTE_DATA',
  'QUEUE_ID',
  'CLIENT_ADDRESS',
  'CLIENT_HELO',
  'INSTANCE',
] as const

/**
 * The recipient variables describe the run's first recipient, as Postfix local(8) does for one
 * recipient; `[NAME.env]` values may use every macro, the recipient ones meaning that recipient too.
 */
export function programEnvironment(
  envelope: Envelope,
  instance: string,
  extra: Readonly<Record<string, Template>>,
): Record<string, string> {
  const first = envelope.recipients[0]
  const context = { envelope, instance }
  const configured: Record<string, string> = {}
  for (const [name, template] of Object.entries(extra)) configured[name] = expandTemplate(template, context, first)
  return {
    PATH: DEFAULT_PATH,
    ...configured,
    SENDER: envelope.sender,
    RECIPIENT: first?.address ?? '',
    LOCAL: first?.mailbox ?? '',
    USER: first?.user ?? '',
    EXTENSION: first?.extension ?? '',
    DOMAIN: first?.domain ?? '',
    ORIGINAL_RECIPIENT: first?.originalRecipient ?? '',
    ROUTE_DATA: first?.routeData ?? '',
    QUEUE_ID: envelope.queueId,
    CLIENT_ADDRESS: envelope.clientAddress,
    CLIENT_HELO: envelope.clientHelo,
    INSTANCE: instance,
  }
}
