// The program's environment is built from nothing: Haraka's own environment (secrets, NODE_*,
// HOME of the service user) never reaches it.
import { expandTemplate, macroValue, type Macro, type Template } from './arguments.js'
import type { Envelope } from './envelope.js'

export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'

/**
 * The variables the plugin sets from the transaction, each the value of one macro; an `[NAME.env]`
 * section may not override them.
 */
const TRANSACTION_MACROS = {
  SENDER: 'sender',
  RECIPIENT: 'recipient',
  LOCAL: 'mailbox',
  USER: 'user',
  EXTENSION: 'extension',
  DOMAIN: 'domain',
  ORIGINAL_RECIPIENT: 'original_recipient',
  ROUTE_DATA: 'route_data',
  QUEUE_ID: 'queue_id',
  CLIENT_ADDRESS: 'client_address',
  CLIENT_HELO: 'client_helo',
  INSTANCE: 'instance',
} as const satisfies Record<string, Macro>

export const TRANSACTION_VARIABLES: readonly string[] = Object.keys(TRANSACTION_MACROS)

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
  const environment: Record<string, string> = { PATH: DEFAULT_PATH }
  for (const [name, template] of Object.entries(extra)) environment[name] = expandTemplate(template, context, first)
  for (const [name, macro] of Object.entries(TRANSACTION_MACROS)) environment[name] = macroValue(macro, context, first)
  return environment
}
