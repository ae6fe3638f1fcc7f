// What haraka-config's parse of pipe_transport.ini loses without a word, found in the file's
// text: lines it cannot read (it prints them to its console and drops them) and keys set twice
// (it keeps the last). The walk is haraka-config 1.7's (lib/readers/ini.js) with its patterns
// (lib/regex.js; a unit test keeps the copies in step), so both see the same sections and keys.
import type { ConfigError } from './settings.js'

const SECTION = /^\s*\[([^\]]*)\]\s*$/
const PARAM = /^\s*([\w@:._+\-/[\]]+)\s*(?:=\s*(.*?)\s*)?$/
const COMMENT = /^\s*[;#].*$/
const BLANK = /^\s*$/
const CONTINUATION = /\\[ \t]*$/
const ARRAY_KEY = /^(.+)\[\]$/
/** Names haraka-config refuses as sections and keys (lib/unsafe-keys.js). */
const UNSAFE_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

export const HARAKA_CONFIG_PATTERNS = { SECTION, PARAM, COMMENT, BLANK, CONTINUATION, ARRAY_KEY } as const

/** Where a key was set: its line, and whether as `key[] = v` (which adds to a list). */
interface Setting {
  readonly line: number
  readonly list: boolean
}

export function textProblems(text: string): ConfigError[] {
  const problems: { line: number; error: ConfigError }[] = []
  /** Every setting of every key, by section, in file order. */
  const settings = new Map<string, Map<string, Setting[]>>()
  let section = 'main'
  let tracked: Map<string, Setting[]> | undefined = sectionKeys(settings, section)
  let pending = ''
  let pendingLine = 0

  const lines = text.split(/\r\n|\r|\n/)
  lines.forEach((physical, index) => {
    const number = index + 1
    if (COMMENT.test(physical) || BLANK.test(physical)) return
    const header = SECTION.exec(physical)
    if (header) {
      section = (header[1] ?? '').trim()
      tracked = UNSAFE_NAMES.has(section) ? undefined : sectionKeys(settings, section)
      if (!tracked) problems.push({ line: number, error: { section, message: `line ${number}: haraka-config ignores this section name and every key in it` } })
      return
    }
    if (CONTINUATION.test(physical)) {
      if (pending === '') pendingLine = number
      pending += physical.replace(CONTINUATION, '')
      return
    }
    const line = `${pending}${physical}`
    const lineNumber = pending === '' ? number : pendingLine
    pending = ''

    const param = PARAM.exec(line)
    if (!param) {
      problems.push({ line: lineNumber, error: unreadable(section, lineNumber, line) })
      return
    }
    const name = param[1] ?? ''
    const list = ARRAY_KEY.test(name)
    const key = list ? name.replace('[]', '') : name
    if (UNSAFE_NAMES.has(key)) {
      problems.push({ line: lineNumber, error: { section, key, message: `line ${lineNumber}: haraka-config ignores a key of this name` } })
      return
    }
    if (!tracked) return
    const seen = tracked.get(key) ?? []
    tracked.set(key, [...seen, { line: lineNumber, list }])
  })
  if (pending !== '') {
    problems.push({
      line: pendingLine,
      error: { section, message: `line ${pendingLine} ends with "\\", which continues it on the next line, but no line follows: haraka-config drops it` },
    })
  }

  for (const [name, keys] of settings) {
    for (const [key, seen] of keys) {
      const repeated = repetition(seen, key)
      if (repeated) problems.push({ line: seen[0]?.line ?? 0, error: { section: name, key, message: repeated } })
    }
  }
  return problems.sort((a, b) => a.line - b.line).map((problem) => problem.error)
}

function sectionKeys(settings: Map<string, Map<string, Setting[]>>, section: string): Map<string, Setting[]> {
  // haraka-config merges a section named twice into one, so its keys are counted together.
  const keys = settings.get(section) ?? new Map<string, Setting[]>()
  settings.set(section, keys)
  return keys
}

/** The message for a key set more than once, or undefined when that is fine (`key[]` lines only). */
function repetition(seen: readonly Setting[], key: string): string | undefined {
  if (seen.length < 2 || seen.every((setting) => setting.list)) return undefined
  const numbers = seen.map((setting) => setting.line)
  const where = `${numbers.slice(0, -1).join(', ')} and ${numbers.at(-1)}`
  if (seen.some((setting) => setting.list)) {
    return `is set on lines ${where}, both as "${key} =" and as "${key}[] =": haraka-config keeps only the last form; use one of them`
  }
  return `is set on lines ${where}: haraka-config keeps only the last; write it once`
}

/** Says why haraka-config drops a line, naming the key as well as it can be made out. */
function unreadable(section: string, number: number, line: string): ConfigError {
  const text = line.trim()
  if (text.startsWith('[')) {
    return {
      section,
      message:
        `line ${number}, "${text}", is dropped by haraka-config: a section line holds only [NAME] (comments go on lines of their own), ` +
        `so the keys after it count as [${section}]'s`,
    }
  }
  const equals = text.indexOf('=')
  const key = (equals < 0 ? text : text.slice(0, equals)).trim()
  if (key === '') return { section, message: `line ${number}, "${text}", is dropped by haraka-config: it has no key before "="` }
  const refused = [...new Set(key.replace(/[\w@:.+\-/[\]]/g, ''))].map((character) => (character === ' ' ? 'a space' : `"${character}"`))
  if (refused.length === 0) return { section, key, message: `line ${number} is dropped by haraka-config: it is not "key = value"` }
  return {
    section,
    key,
    message: `line ${number} is dropped by haraka-config: a key cannot hold ${refused.join(', ')} (only letters, digits and _ @ : . + - / [ ])`,
  }
}
