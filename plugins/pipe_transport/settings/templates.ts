// Macros in `arguments` and in `[NAME.env]` values, parsed once at load into templates, which
// invocation/ expands per delivery. No shell is involved, so a macro's value is always exactly one
// argv word (or one per recipient) and shell metacharacters in addresses reach the program literally.
import { failure, ok, type Failure, type Result } from '../util/result.js'
import { MACROS, type Macro, type Template, type TemplatePart } from './vocabulary.js'

/**
 * Macros that belong to one recipient. As in Postfix pipe(8), a word holding any of them is
 * repeated once per recipient, so `${user}@${domain}` pairs each user with its own domain.
 * `${route_data}` is not among them: the recipients of one run share it (Postfix's ${nexthop}).
 */
const PER_RECIPIENT: ReadonlySet<Macro> = new Set([
  'recipient',
  'user',
  'extension',
  'mailbox',
  'domain',
  'original_recipient',
  'delivery_id',
])

/** True when a template's value depends on the recipient (one of the PER_RECIPIENT macros). */
export function usesRecipientMacros(template: Template): boolean {
  return template.some((part) => 'macro' in part && PER_RECIPIENT.has(part.macro))
}

/**
 * The variables the plugin sets from the transaction, each the value of one macro; an `[NAME.env]`
 * section may not override them.
 */
export const TRANSACTION_VARIABLES = {
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
  SASL_USERNAME: 'sasl_username',
  SIZE: 'size',
  ENVID: 'envid',
  DELIVERY_ID: 'delivery_id',
  INSTANCE: 'instance',
} as const satisfies Record<string, Macro>

/** Splits `arguments` into words: whitespace separates, double quotes group. */
export function parseArguments(text: string): Result<Template[]> {
  const bare = bareMacro(text)
  if (bare) return bare
  const words: Template[] = []
  let parts: TemplatePart[] = []
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
      if (!macro.ok) return macro
      flushLiteral()
      parts.push({ macro: macro.value.name })
      inWord = true
      i = macro.value.end
    } else {
      literal += ch
      inWord = true
    }
  }
  if (quoted) return failure('unterminated double quote')
  if (inWord) {
    flushLiteral()
    words.push(parts)
  }
  return ok(words)
}

/** A value with macros and nothing else to interpret (an `[NAME.env]` value): kept as one string. */
export function parseTemplate(text: string): Result<Template> {
  const bare = bareMacro(text)
  if (bare) return bare
  const parts: TemplatePart[] = []
  let from = 0
  for (let at = text.indexOf('${'); at >= 0; at = text.indexOf('${', from)) {
    const macro = readMacro(text, at)
    if (!macro.ok) return macro
    if (at > from) parts.push({ literal: text.slice(from, at) })
    parts.push({ macro: macro.value.name })
    from = macro.value.end + 1
  }
  if (from < text.length) parts.push({ literal: text.slice(from) })
  return ok(parts)
}

/** The macro starting at `${` at `start`: its name and the index of its closing brace. */
function readMacro(text: string, start: number): Result<{ name: Macro; end: number }> {
  const end = text.indexOf('}', start + 2)
  if (end < 0) return failure(`unterminated macro at "${text.slice(start)}"`)
  const name = text.slice(start + 2, end)
  if (isMacro(name)) return ok({ name, end })
  const meant = meantMacro(name)
  if (name.toLowerCase() === 'nexthop')
    return failure(
      `unknown macro \${${name}}: Postfix's next hop is \${route_data} here, the value of the [NAME.address] entry (for a domain entry Postfix's next hop is the domain: \${domain})`,
    )
  if (meant !== undefined) return failure(`unknown macro \${${name}}; did you mean \${${meant}}?`)
  return failure(`unknown macro \${${name}}; known: ${MACROS.map((m) => `\${${m}}`).join(' ')}`)
}

/**
 * `$user` or `$USER` where `${user}` was meant: no shell runs the program, so nothing would expand
 * it, and the program would get the text itself. Other `$` words (`$stdin` in Ruby code, `$1`) are
 * left alone: they may be meant for the program.
 */
function bareMacro(text: string): Failure | undefined {
  for (const [written, name = ''] of text.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const meant = meantMacro(name)
    if (meant !== undefined)
      return failure(
        `"${written}" is not expanded: no shell runs the program, and macros are written in braces; write \${${meant}}`,
      )
  }
  return undefined
}

/** The macro that a name written another way means: lower case, local(8)'s variable (`USER`), Postfix's `nexthop`. */
function meantMacro(name: string): Macro | undefined {
  const variables: Readonly<Record<string, Macro>> = TRANSACTION_VARIABLES
  if (Object.hasOwn(variables, name)) return variables[name]
  const lower = name.toLowerCase()
  if (lower === 'nexthop') return 'route_data'
  return isMacro(lower) ? lower : undefined
}

function isMacro(name: string): name is Macro {
  return (MACROS as readonly string[]).includes(name)
}
