// The program's environment is built from nothing: Haraka's own environment (secrets, NODE_*)
// never reaches it. It holds the instance's variables (PATH, HOME, LOGNAME, SHELL and `[NAME.env]`,
// settings/environment.ts) and the transaction's.
import { TRANSACTION_VARIABLES } from '../settings/templates.js'
import type { Template } from '../settings/vocabulary.js'
import type { Envelope } from './envelope.js'
import { expandTemplate, macroValue } from './macro-values.js'

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
  const environment: Record<string, string> = {}
  for (const [name, template] of Object.entries(extra)) environment[name] = expandTemplate(template, context, first)
  for (const [name, macro] of Object.entries(TRANSACTION_VARIABLES))
    environment[name] = macroValue(macro, context, first)
  return environment
}
