// The program's argv from the instance's `arguments` templates (settings/templates.ts parsed them).
import type { Recipient } from '../routing/recipient.js'
import { usesRecipientMacros } from '../settings/templates.js'
import type { Template } from '../settings/vocabulary.js'
import { failure, ok, type Result } from '../util/result.js'
import { expandTemplate, type ExpansionContext } from './macro-values.js'

/**
 * Expands the templates into argv, a word with a recipient macro once per recipient. Fails when a
 * macro would put a `-` at the start of a word: an address must never be able to become an option.
 */
export function expandArguments(words: readonly Template[], context: ExpansionContext): Result<string[]> {
  const argv: string[] = []
  for (const word of words) {
    const perRecipient = usesRecipientMacros(word)
    const recipients: readonly (Recipient | undefined)[] = perRecipient
      ? context.envelope.recipients
      : [context.envelope.recipients[0]]
    for (const recipient of recipients) {
      const first = word[0]
      const value = expandTemplate(word, context, recipient)
      if (first && 'macro' in first && value.startsWith('-'))
        return failure(`\${${first.macro}} would start argument "${value}" with "-"`)
      argv.push(value)
    }
  }
  return ok(argv)
}
