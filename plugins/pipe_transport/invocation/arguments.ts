// Macros in `arguments` and in `[NAME.env]` values: parsed once at config time into templates,
// expanded per delivery. No shell is involved, so a macro's value is always exactly one argv word
// (or one per recipient) and shell metacharacters in addresses reach the program literally.
import type { Envelope, Recipient } from './envelope.js'

export const MACROS = [
  'sender',
  'recipient',
  'user',
  'extension',
  'mailbox',
  'domain',
  'original_recipient',
  'route_data',
  'queue_id',
  'client_address',
  'client_helo',
  'instance',
] as const
export type Macro = (typeof MACROS)[number]

/**
 * Macros that belong to one recipient. As in Postfix pipe(8), a word holding any of them is
 * repeated once per recipient, so `${user}@${domain}` pairs each user with its own domain.
 * `${route_data}` is not among them: the recipients of one run share it (Postfix's ${nexthop}).
 */
const PER_RECIPIENT: ReadonlySet<Macro> = new Set(['recipient', 'user', 'extension', 'mailbox', 'domain', 'original_recipient'])

/** True when a template's value depends on the recipient (one of the PER_RECIPIENT macros). */
export function usesRecipientMacros(template: Template): boolean {
  return template.some((part) => 'macro' in part && PER_RECIPIENT.has(part.macro))
}

type Part = { readonly literal: string } | { readonly macro: Macro }
/** One argv word, or one environment value: literal text and macros. */
export type Template = readonly Part[]
export type WordTemplate = Template

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
      const macro = readMacro(text, i)
      if ('error' in macro) return macro
      flushLiteral()
      parts.push({ macro: macro.name })
      inWord = true
      i = macro.end
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

/** A value with macros and nothing else to interpret (an `[NAME.env]` value): kept as one string. */
export function parseTemplate(text: string): { template: Template } | { error: string } {
  const parts: Part[] = []
  let from = 0
  for (let at = text.indexOf('${'); at >= 0; at = text.indexOf('${', from)) {
    const macro = readMacro(text, at)
    if ('error' in macro) return macro
    if (at > from) parts.push({ literal: text.slice(from, at) })
    parts.push({ macro: macro.name })
    from = macro.end + 1
  }
  if (from < text.length) parts.push({ literal: text.slice(from) })
  return { template: parts }
}

/** The macro starting at `${` at `start`: its name and the index of its closing brace. */
function readMacro(text: string, start: number): { name: Macro; end: number } | { error: string } {
  const end = text.indexOf('}', start + 2)
  if (end < 0) return { error: `unterminated macro at "${text.slice(start)}"` }
  const name = text.slice(start + 2, end)
  if (!isMacro(name)) return { error: `unknown macro \${${name}}; known: ${MACROS.map((m) => `\${${m}}`).join(' ')}` }
  return { name, end }
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
    const perRecipient = usesRecipientMacros(word)
    const recipients: readonly (Recipient | undefined)[] = perRecipient ? context.envelope.recipients : [context.envelope.recipients[0]]
    for (const recipient of recipients) {
      const first = word[0]
      const value = expandTemplate(word, context, recipient)
      if (first && 'macro' in first && value.startsWith('-')) {
        return { refused: `\${${first.macro}} would start argument "${value}" with "-"` }
      }
      argv.push(value)
    }
  }
  return { argv }
}

/** One template's text, with the recipient macros taken from `recipient`. */
export function expandTemplate(template: Template, context: ExpansionContext, recipient: Recipient | undefined): string {
  return template.map((part) => ('macro' in part ? macroValue(part.macro, context, recipient) : part.literal)).join('')
}

/** A macro's value in this transaction; the recipient macros are empty without a recipient. */
export function macroValue(macro: Macro, context: ExpansionContext, recipient: Recipient | undefined): string {
  const { envelope } = context
  switch (macro) {
    case 'sender':
      return envelope.sender
    case 'recipient':
      return recipient?.address ?? ''
    case 'user':
      return recipient?.user ?? ''
    case 'extension':
      return recipient?.extension ?? ''
    case 'mailbox':
      return recipient?.mailbox ?? ''
    case 'domain':
      return recipient?.domain ?? ''
    case 'original_recipient':
      return recipient?.originalRecipient ?? ''
    case 'route_data':
      return recipient?.routeData ?? ''
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
