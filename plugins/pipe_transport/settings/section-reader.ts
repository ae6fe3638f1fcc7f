// Every key of pipe_transport.ini is read through one of these: an instance's own value, else
// [main]'s, as one trimmed single value, checked the same way wherever it is set. A problem is
// reported against the section the value came from.
import { resolve } from 'node:path'
import { iniText, parseFlag, parseWholeNumber } from './ini-values.js'
import type { Problems } from './problems.js'

/** haraka-config's result: sections of key/value pairs, `[a.b]` being one flat section. */
export type RawSection = Readonly<Record<string, unknown>>

export class SectionReader {
  constructor(
    readonly section: string,
    private readonly own: RawSection,
    private readonly problems: Problems,
    /** [main], for an instance; keys it may not inherit (`domain`) are left out by `inherits`. */
    private readonly fallback?: { readonly values: RawSection; readonly inherits: (key: string) => boolean },
  ) {}

  /** The value and the section it was found in, or undefined when neither sets it. */
  lookup(key: string): { readonly value: unknown; readonly section: string } | undefined {
    if (this.own[key] !== undefined) return { value: this.own[key], section: this.section }
    const fallback = this.fallback
    if (fallback && fallback.inherits(key) && fallback.values[key] !== undefined)
      return { value: fallback.values[key], section: 'main' }
    return undefined
  }

  has(key: string): boolean {
    return this.lookup(key) !== undefined
  }

  fail(key: string, message: string): void {
    this.problems.error(this.lookup(key)?.section ?? this.section, key, message)
  }

  warn(key: string, message: string): void {
    this.problems.warn(this.lookup(key)?.section ?? this.section, key, message)
  }

  /** One value, trimmed; `key[] =` lines (a list) where one value belongs are an error. */
  text(key: string, fallback: string): string {
    return this.single(key) ?? fallback
  }

  /** The same, undefined where the key is not set or holds a list (which is reported). */
  single(key: string): string | undefined {
    const found = this.lookup(key)
    if (found === undefined) return undefined
    if (typeof found.value !== 'string' && typeof found.value !== 'number') {
      this.fail(key, 'must be a single value')
      return undefined
    }
    return String(found.value).trim()
  }

  /** `key = a, b c` or `key[] = a` lines: the items, split at commas and white space. */
  list(key: string): string[] {
    const value = this.lookup(key)?.value
    const items = Array.isArray(value) ? value.map(iniText) : value === undefined ? [] : [iniText(value)]
    return items.flatMap((item) => item.split(/[\s,]+/)).filter((entry) => entry !== '')
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const number = parseWholeNumber(this.text(key, String(fallback)), min, max)
    if (number.ok) return number.value
    this.fail(key, number.error)
    return fallback
  }

  flag(key: string, fallback = false): boolean {
    const value = this.text(key, String(fallback))
    const parsed = parseFlag(value)
    if (parsed === undefined) this.fail(key, `"${value}" must be true or false`)
    return parsed ?? fallback
  }

  choice<Choice extends string>(key: string, choices: readonly Choice[], fallback: Choice): Choice {
    const value = this.text(key, fallback).toLowerCase()
    if ((choices as readonly string[]).includes(value)) return value as Choice
    this.fail(key, `"${value}" must be one of: ${choices.join(', ')}`)
    return fallback
  }

  /** A path, relative ones resolved against the Haraka install dir. */
  path(key: string, fallback: string, installDir: string): string {
    return resolve(installDir, this.text(key, fallback))
  }
}
