// The `arguments` key: split once at config time into word templates, expanded per delivery.
// No shell is involved, so a macro's value is always exactly one argv word (or one per
// recipient) and shell metacharacters in addresses reach the program literally.
import type { Envelope, Recipient } from './envelope.js'

export const MACROS = [
  'sender',
  'recipient',
  'user',
  'domain',
  'queue_id',
  'client_address',
  'client_helo',
  'instance',
] as const
export type Macro = (typeof MACROS)[number]

/**
 * Macros that belong to one recipient. As in Postfix pipe(8), a word holding any of them is
 * repeated once per recipient, so `${user}@${domain}` pairs each user with its own domain.
 */
const PER_RECIPIENT: ReadonlySet<Macro> = new Set(['recipient', 'user', 'domain'])

type Part = { readonly literal: string } | { readonly macro: Macro }
export type WordTemplate = readonly Part[]

/** Splits `arguments` into words: whitespace separates, double quotes group. */
export function parseArguments(text: string): { words: WordTemplate[] } | { error: string } {
  const words: WordTemplate[] = []
  let parts: Part[] = []
  let literal = ''
  let inWord = false
  let quoted = false
  const flushLiteral = (): void => {
    if (literal !== '') parts.push({ literal })
    literal = ''
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i)
    if (ch === '"') {
      quoted = !quoted
      inWord = true
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) {
        flushLiteral()
        words.push(parts)
        parts = []
        inWord = false
      }
    } else if (ch === '$' && text.charAt(i + 1) === '{') {
      const end = text.indexOf('}', i + 2)
      if (end < 0) return { error: `unterminated macro at "${text.slice(i)}"` }
      const name = text.slice(i + 2, end)
      if (!isMacro(name)) return { error: `unknown macro \${${name}}; known: ${MACROS.map((m) => `\${${m}}`).join(' ')}` }
      flushLiteral()
      parts.push({ macro: name })
      inWord = true
      i = end
    } else {
      literal += ch
      inWord = true
    }
  }
  if (quoted) return { error: 'unterminated double quote' }
  if (inWord) {
    flushLiteral()
    words.push(parts)
  }
  return { words }
}

function isMacro(name: string): name is Macro {
  return (MACROS as readonly string[]).includes(name)
}

export interface ExpansionContext {
  readonly envelope: Envelope
  readonly instance: string
}

/**
 * Expands the templates into argv. Refuses (returns `refused`) when a macro would put a `-` at
 * the start of a word: an address must never be able to become an option.
 */
export function expandArguments(
  words: readonly WordTemplate[],
  context: ExpansionContext,
): { argv: string[] } | { refused: string } {
  const argv: string[] = []
  for (const word of words) {
    const perRecipient = word.some((part) => 'macro' in part && PER_RECIPIENT.has(part.macro))
    const recipients: readonly (Recipient | undefined)[] = perRecipient ? context.envelope.recipients : [undefined]
    for (const recipient of recipients) {
      const first = word[0]
      const value = word.map((part) => ('macro' in part ? macroValue(part.macro, context, recipient) : part.literal)).join('')
      if (first && 'macro' in first && value.startsWith('-')) {
        return { refused: `\${${first.macro}} would start argument "${value}" with "-"` }
      }
      argv.push(value)
    }
  }
  return { argv }
}

function macroValue(macro: Macro, context: ExpansionContext, recipient: Recipient | undefined): string {
  const { envelope } = context
  switch (macro) {
    case 'sender':
      return envelope.sender
    case 'recipient':
      return recipient?.address ?? ''
    case 'user':
      return recipient?.user ?? ''
    case 'domain':
      return recipient?.domain ?? ''
    case 'queue_id':
      return envelope.queueId
    case 'client_address':
      return envelope.clientAddress
    case 'client_helo':
      return envelope.clientHelo
    case 'instance':
      return context.instance
  }
}
