// How one ini value reads, wherever it is set: a flag, or a whole number in a range.
import { failure, ok, type Result } from '../util/result.js'

const TRUE_WORDS = ['true', 'yes', 'on', '1']
const FALSE_WORDS = ['false', 'no', 'off', '0']

/**
 * A value as haraka-config gives it (a string, a number it converted, a list of `key[]` lines) as
 * the text the file holds; nothing for a key written without `=`.
 */
export function iniText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return value.map(iniText).join(',')
  return ''
}

/**
 * Booleans are parsed here rather than by haraka-config's booleans list, which turns any typo
 * into false. Returns undefined for a value that is neither.
 */
export function parseFlag(value: unknown): boolean | undefined {
  const word = iniText(value).trim().toLowerCase()
  return TRUE_WORDS.includes(word) ? true : FALSE_WORDS.includes(word) ? false : undefined
}

/** A whole number from min to max, as an ini value (haraka-config may already have made it a number). */
export function parseWholeNumber(value: unknown, min: number, max: number): Result<number> {
  const text = iniText(value).trim()
  const number = /^\d+$/.test(text) ? Number(text) : Number.NaN
  return number >= min && number <= max ? ok(number) : failure(`"${text}" must be a whole number from ${min} to ${max}`)
}
