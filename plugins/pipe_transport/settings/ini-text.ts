// pipe_transport.ini as haraka-config reads any ini, with two differences. The entries of the
// `[NAME.address]` sections and of `[unrouted]` are not turned into objects: those sections can hold
// 100,000 addresses, which parsed into one object cost tens of MB that V8 keeps (see
// settings/address-table.ts), so they are read from the text, one entry at a time, when settings.ts
// builds the routing table; their keys may hold UTF-8 (`grüße@bücher.example`), which haraka-config's
// key grammar (ASCII letters) would drop. And a value is taken as it is written: haraka-config turns
// `01234` into the number 1234 and `1.10` into 1.1. Every other line goes to haraka-config's own
// parser, and every line is split and classified with haraka-config's own regular expressions, so
// the file means what any Haraka ini means. What that parser loses without a word (lines it drops,
// keys set twice, of which it keeps the last) is found in the text too, and reported as errors, as
// is what it keeps that an operator did not mean as part of a value: a comment after it, quotes
// around it.
import type HarakaRegex = require('haraka-config/lib/regex')
import type { Failure } from '../util/result.js'
import { iniText } from './ini-values.js'
import type { ConfigProblem } from './problems.js'
import { UNROUTED_SECTION } from './keys.js'
import type { RawSection } from './section-reader.js'

/** What haraka-config provides (harakaConfigGrammar). */
export interface IniGrammar {
  /** haraka-config's lib/regex.js. */
  readonly regex: typeof HarakaRegex
  /** haraka-config's lib/unsafe-keys.js: section and key names it ignores. */
  readonly unsafeKeys: ReadonlySet<string>
  /** haraka-config's lib/readers/ini.js parseIni(): the file name only appears in its log lines. */
  parseIni(name: string, options: Record<string, unknown>, data: string): Record<string, Record<string, unknown>>
}

/**
 * haraka-config's grammar from the haraka-config that `load` finds: the sandboxed entry's
 * `require` finds Haraka's own, the package's its dependency, the try command Haraka's.
 */
export function harakaConfigGrammar(load: (id: string) => unknown): IniGrammar {
  return {
    regex: load('haraka-config/lib/regex') as IniGrammar['regex'],
    parseIni: (load('haraka-config/lib/readers/ini') as Pick<IniGrammar, 'parseIni'>).parseIni,
    unsafeKeys: (load('haraka-config/lib/unsafe-keys') as { UNSAFE_KEYS: ReadonlySet<string> }).UNSAFE_KEYS,
  }
}

/**
 * A line of a `[NAME.address]` section or of `[unrouted]`: a key and its value (undefined for a key
 * written alone, without `=`); it fails with why it cannot be read as `key` or `key = value`, or
 * why its value would not mean what it seems to (misreadValue()).
 */
export type AddressLine =
  | { readonly ok: true; readonly value: { readonly key: string; readonly value: string | undefined } }
  | (Failure & { readonly key: string })

export interface Ini {
  /** Every section, as haraka-config parses it; the `[NAME.address]` ones are here, but empty. */
  readonly sections: Readonly<Record<string, RawSection | undefined>>
  /** A `[NAME.address]` section's lines, or `[unrouted]`'s, in the file's order. */
  addressLines(section: string): Iterable<AddressLine>
  /** How many bytes and lines all `[NAME.address]` sections take, to size the routing table. */
  readonly addressSize: { readonly bytes: number; readonly entries: number }
  /** What haraka-config's parse of the other sections loses (textProblems). */
  readonly problems: readonly ConfigProblem[]
}

export const ADDRESS_SUFFIX = '.address'

/** The sections of addresses, read from the text line by line (addressLines). */
function readLineByLine(section: string): boolean {
  return section.endsWith(ADDRESS_SUFFIX) || section === UNROUTED_SECTION
}

/**
 * haraka-config's key grammar, with UTF-8 beside its ASCII letters: an address key of these
 * sections may be internationalised (RFC 6531). What haraka-config could read is read the same way.
 */
const ADDRESS_PARAM = /^\s*((?:[\w@:._+\-/[\]]|[\u0080-\uffff])+)\s*(?:=\s*(.*?)\s*)?$/

/** The ini for sections already parsed into objects (tests, and haraka-config's own parse). */
export function iniFromSections(sections: Readonly<Record<string, RawSection | undefined>>): Ini {
  return {
    sections,
    *addressLines(section) {
      for (const [key, value] of Object.entries(sections[section] ?? {})) {
        yield { ok: true, value: { key, value: value === undefined || value === null ? undefined : iniText(value) } }
      }
    },
    addressSize: { bytes: 4096, entries: 256 },
    problems: [],
  }
}

/** The ini for the file's text. */
export function iniFromText(file: string, text: string, grammar: IniGrammar): Ini {
  const { regex } = grammar
  const rest: string[] = []
  /** Where each address section's lines are: [start, end) offsets into `text`, per block of it. */
  const ranges = new Map<string, [number, number][]>()
  let inAddress: [number, number] | undefined
  const addressSize = { bytes: 0, entries: 0 }
  for (const { line, end } of lines(text, 0, text.length)) {
    const header = regex.section.exec(line)
    if (header) {
      const name = (header[1] ?? '').trim()
      inAddress = readLineByLine(name) ? [end, end] : undefined
      if (inAddress) ranges.set(name, [...(ranges.get(name) ?? []), inAddress])
      rest.push(line)
    } else if (inAddress) {
      addressSize.bytes += end - inAddress[1]
      addressSize.entries++
      inAddress[1] = end
    } else if (!line.trim().startsWith('[')) {
      // A line like `[broken` is reported as what it is (walkText), not also as an unknown key.
      rest.push(line)
    }
  }
  const addressLines = function* (section: string): Iterable<AddressLine> {
    for (const [from, to] of ranges.get(section) ?? []) {
      let pending = ''
      for (const { line: raw } of lines(text, from, to)) {
        if (regex.comment.test(raw) || regex.blank.test(raw)) continue
        // A trailing backslash continues the line, as haraka-config reads it.
        if (regex.continuation.test(raw)) {
          pending += raw.replace(regex.continuation, '')
          continue
        }
        const line = pending + raw
        pending = ''
        yield addressLine(line)
      }
    }
  }
  const walk = walkText(text, grammar)
  const sections = grammar.parseIni(file, {}, rest.join('\n'))
  keepWrittenValues(sections, walk.written)
  return { sections, addressLines, addressSize, problems: walk.problems }
}

function addressLine(line: string): AddressLine {
  const param = ADDRESS_PARAM.exec(line)
  const key = param?.[1]
  if (param === null || key === undefined) {
    const comment = inlineComment(line)
    return {
      ok: false,
      key: line.trim(),
      error:
        comment ??
        'is not "address" or "address = route data": an address may hold letters, digits and . _ + - / : @ only',
    }
  }
  const value = param[2]
  const misread = value === undefined ? undefined : misreadValue(key, afterEquals(line))
  return misread === undefined ? { ok: true, value: { key, value } } : { ok: false, key, error: misread }
}

/** Keys whose values pipe_transport splits into words itself, where double quotes group a word. */
const QUOTING_KEYS: ReadonlySet<string> = new Set(['arguments', 'check_arguments'])

const INLINE_COMMENTS = 'inline comments are not comments in haraka-config ini'

/**
 * Why a value would not mean what the operator wrote it for, or undefined: text after white space
 * and `;` or `#` is no comment to haraka-config but part of the value (`billing   ; the billing
 * queue` is all route data), and quotes around a value stay part of it (`"/bin/cat"`). `text` is
 * what follows the `=`.
 */
export function misreadValue(key: string, text: string): string | undefined {
  const comment = inlineComment(text, QUOTING_KEYS.has(key))
  if (comment !== undefined) return comment
  const value = text.trim()
  const quote = value.charAt(0)
  if (!QUOTING_KEYS.has(key) && value.length >= 2 && (quote === '"' || quote === "'") && value.endsWith(quote)) {
    return `haraka-config keeps the quotes of ${value} as part of the value; write "${key} = ${value.slice(1, -1)}"`
  }
  return undefined
}

/**
 * The message for a comment in `text` (outside double quotes, if they group): `;` or `#` after
 * white space, or at its start with white space after (`= ; none yet`). `#fff` and `a;b` are data.
 */
function inlineComment(text: string, quotesGroup = false): string | undefined {
  const trimmed = text.trim()
  let quoted = false
  for (let i = 0; i < trimmed.length; i++) {
    const character = trimmed.charAt(i)
    if (quotesGroup && character === '"') quoted = !quoted
    else if (
      !quoted &&
      (character === ';' || character === '#') &&
      (i === 0 ? /\s/.test(trimmed.charAt(1)) : /\s/.test(trimmed.charAt(i - 1)))
    ) {
      return `"${trimmed.slice(i)}" would be part of the value: ${INLINE_COMMENTS}; put the comment on a line of its own`
    }
  }
  return undefined
}

/** What follows the `=` of a `key = value` line (keys hold no `=`), or nothing. */
function afterEquals(line: string): string {
  const equals = line.indexOf('=')
  return equals < 0 ? '' : line.slice(equals + 1)
}

/**
 * Numbers back to the text they were written as: haraka-config turns a value that looks like one
 * into a number (`01234` into 1234, `1.10` into 1.1), but every value here is text to the
 * plugin (an environment variable, an argument), and the operator meant what is written.
 */
function keepWrittenValues(
  sections: Record<string, Record<string, unknown>>,
  written: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>,
): void {
  for (const [name, keys] of written) {
    const section = sections[name]
    if (section === undefined) continue
    for (const [key, values] of keys) {
      const parsed = section[key]
      if (Array.isArray(parsed))
        section[key] = parsed.map((item: unknown, index) => (typeof item === 'number' ? values[index] : item))
      else if (typeof parsed === 'number') section[key] = values.at(-1)
    }
  }
}

/**
 * Lines haraka-config drops, keys it would keep only the last of, and values it would read
 * otherwise than meant (misreadValue), outside the `[NAME.address]` sections and `[unrouted]`
 * (whose lines route-entries.ts checks one by one as it reads them).
 */
export function textProblems(text: string, grammar: Pick<IniGrammar, 'regex' | 'unsafeKeys'>): ConfigProblem[] {
  return walkText(text, grammar).problems
}

interface Setting {
  readonly line: number
  /** `key[] = v`, which adds to a list. */
  readonly list: boolean
  /** The value as written; undefined for a key without `=`. */
  readonly value: string | undefined
}

/**
 * The walk of haraka-config 1.7's own reader (lib/readers/ini.js), so that both see the same
 * sections, keys and lines: what its parse loses or misreads, and every value as written, by
 * section and key, in file order.
 */
function walkText(
  text: string,
  grammar: Pick<IniGrammar, 'regex' | 'unsafeKeys'>,
): { problems: ConfigProblem[]; written: Map<string, Map<string, string[]>> } {
  const { regex, unsafeKeys } = grammar
  const problems: { line: number; error: ConfigProblem }[] = []
  /** Where each key was set, by section, in file order. */
  const settings = new Map<string, Map<string, Setting[]>>()
  let section = 'main'
  let tracked: Map<string, Setting[]> | undefined = sectionKeys(settings, section)
  let pending = ''
  let pendingLine = 0
  let number = 0
  for (const { line: physical } of lines(text, 0, text.length)) {
    number++
    if (regex.comment.test(physical) || regex.blank.test(physical)) continue
    const header = regex.section.exec(physical)
    if (header) {
      section = (header[1] ?? '').trim()
      const ignored = unsafeKeys.has(section)
      if (ignored)
        problems.push({
          line: number,
          error: { section, message: `line ${number}: haraka-config ignores this section name and every key in it` },
        })
      // Address sections are read line by line into the routing table, which checks them itself.
      tracked = ignored || readLineByLine(section) ? undefined : sectionKeys(settings, section)
      continue
    }
    if (!tracked) continue
    if (regex.continuation.test(physical)) {
      if (pending === '') pendingLine = number
      pending += physical.replace(regex.continuation, '')
      continue
    }
    const line = `${pending}${physical}`
    const at = pending === '' ? number : pendingLine
    pending = ''
    const param = regex.param.exec(line)
    // `[broken` is a key to haraka-config's grammar, which takes `[` and `]` in keys for `key[]`.
    if (line.trim().startsWith('[')) {
      problems.push({ line: at, error: notASection(section, at, line, param !== null) })
      continue
    }
    if (!param) {
      problems.push({ line: at, error: unreadable(section, at, line) })
      continue
    }
    const name = param[1] ?? ''
    const list = regex.is_array.test(name)
    const key = list ? name.replace('[]', '') : name
    if (unsafeKeys.has(key)) {
      problems.push({
        line: at,
        error: { section, key, message: `line ${at}: haraka-config ignores a key of this name` },
      })
      continue
    }
    const value = param[2]
    const misread = value === undefined ? undefined : misreadValue(key, afterEquals(line))
    if (misread !== undefined) problems.push({ line: at, error: { section, key, message: `line ${at}: ${misread}` } })
    tracked.set(key, [...(tracked.get(key) ?? []), { line: at, list, value }])
  }
  if (pending !== '') {
    const message = `line ${pendingLine} ends with "\\", which continues it on the next line, but no line follows: haraka-config drops it`
    problems.push({ line: pendingLine, error: { section, message } })
  }
  const written = new Map<string, Map<string, string[]>>()
  for (const [name, keys] of settings) {
    const values = new Map<string, string[]>()
    written.set(name, values)
    for (const [key, seen] of keys) {
      values.set(
        key,
        seen.flatMap((setting) => (setting.value === undefined ? [] : [setting.value])),
      )
      const repeated = repetition(seen, key)
      if (repeated) problems.push({ line: seen[0]?.line ?? 0, error: { section: name, key, message: repeated } })
    }
  }
  return { problems: problems.sort((a, b) => a.line - b.line).map((problem) => problem.error), written }
}

function sectionKeys(settings: Map<string, Map<string, Setting[]>>, section: string): Map<string, Setting[]> {
  // haraka-config merges a section named twice into one, so its keys are counted together.
  const keys = settings.get(section) ?? new Map<string, Setting[]>()
  settings.set(section, keys)
  return keys
}

/** The message for a key set more than once, or undefined when that is fine (`key[]` lines only). */
function repetition(seen: readonly { line: number; list: boolean }[], key: string): string | undefined {
  if (seen.length < 2 || seen.every((setting) => setting.list)) return undefined
  const numbers = seen.map((setting) => setting.line)
  const where = `${numbers.slice(0, -1).join(', ')} and ${numbers.at(-1)}`
  if (seen.some((setting) => setting.list)) {
    return `is set on lines ${where}, both as "${key} =" and as "${key}[] =": haraka-config keeps only the last form; use one of them`
  }
  return `is set on lines ${where}: haraka-config keeps only the last; write it once`
}

/**
 * A line that starts like a section and is not one: haraka-config drops it, or reads it as a key
 * (`[broken`), and either way the keys after it stay in the section before.
 */
function notASection(section: string, number: number, line: string, readAsKey: boolean): ConfigProblem {
  const text = line.trim()
  if (!text.includes(']')) {
    return {
      section,
      message:
        `line ${number}, "${text}", is not a section line: it has no closing "]", so haraka-config ` +
        `${readAsKey ? 'reads it as a key' : 'drops it'}, and the keys after it as [${section}]'s; write ${text}]`,
    }
  }
  return {
    section,
    message:
      `line ${number}, "${text}", is ${readAsKey ? 'read as a key' : 'dropped'} by haraka-config: a section line holds only [NAME] (comments go on lines of their own), ` +
      `so the keys after it count as [${section}]'s`,
  }
}

/** Says why haraka-config drops a line, naming the key as well as it can be made out. */
function unreadable(section: string, number: number, line: string): ConfigProblem {
  const text = line.trim()
  const equals = text.indexOf('=')
  const key = (equals < 0 ? text : text.slice(0, equals)).trim()
  const comment = equals < 0 ? inlineComment(text) : undefined
  if (comment !== undefined)
    return {
      section,
      key: key.split(/\s/)[0] ?? key,
      message: `line ${number} is dropped by haraka-config: ${comment}`,
    }
  if (key === '')
    return { section, message: `line ${number}, "${text}", is dropped by haraka-config: it has no key before "="` }
  const refused = [...new Set(key.replace(/[\w@:.+\-/[\]]/g, ''))].map((character) =>
    character === ' ' ? 'a space' : `"${character}"`,
  )
  if (refused.length === 0)
    return { section, key, message: `line ${number} is dropped by haraka-config: it is not "key = value"` }
  return {
    section,
    key,
    message: `line ${number} is dropped by haraka-config: a key cannot hold ${refused.join(', ')} (only letters, digits and _ @ : . + - / [ ])`,
  }
}

/** The lines of text[from, to), split as haraka-config splits a file (CRLF, CR or LF). */
function* lines(text: string, from: number, to: number): Iterable<{ line: string; end: number }> {
  let start = from
  while (start < to) {
    let end = start
    while (end < to && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++
    const line = text.slice(start, end)
    if (text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10) end++
    yield { line, end: end + 1 }
    start = end + 1
  }
}
