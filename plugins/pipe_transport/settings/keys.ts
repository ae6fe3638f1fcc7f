// Which keys and sections pipe_transport.ini may hold, and where: a typo is an error with a "did
// you mean", a key in the wrong kind of section says where it belongs, and a removed key says why.
import { CIRCUIT_BREAKER_KEYS } from './circuit-breaker.js'
import { closest } from './did-you-mean.js'
import type { Problems } from './problems.js'
import type { RawSection } from './section-reader.js'

/** Keys an instance section may hold; all but `domain` may also be set in `[main]` as defaults. */
export const INSTANCE_KEYS = [
  'program_name',
  'arguments',
  'domain',
  'output_file',
  'error_file',
  'directory',
  'timeout',
  'max_concurrency',
  'user',
  'group',
  'code_preset',
  'status_from_stderr',
  'line_endings',
  'return_path',
  'delivered_to',
  'from_line',
  'x_original_to',
  'recipient_limit',
  'check_recipient',
  'check_program',
  'check_arguments',
  'check_timeout',
  'check_cache',
  'lowercase_local_part',
  ...CIRCUIT_BREAKER_KEYS,
] as const

export const JOURNAL_KEYS = ['journal', 'journal_directory', 'journal_days', 'journal_unavailable'] as const
/** Keys that concern the whole plugin rather than one instance. */
const MAIN_ONLY_KEYS = ['enable_outbound', 'recipient_delimiter', 'metrics_listen', ...JOURNAL_KEYS] as const
/** `[main]` takes every instance key but `domain` (as defaults), and the keys of the whole plugin. */
const MAIN_KEYS: readonly string[] = [...INSTANCE_KEYS.filter((key) => key !== 'domain'), ...MAIN_ONLY_KEYS]

/** Keys that earlier versions took, with what to do about them: an error rather than an unknown key, so that the operator learns why. */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  spawn_helpers:
    'is no longer used: programs start with posix_spawn in Haraka itself, which needs no helper processes; remove this line',
}
const MISPLACED_IN_MAIN: Readonly<Record<string, string>> = {
  domain: 'belongs in an instance section: [main] holds what every instance inherits, and a domain has one instance',
}
const MISPLACED_IN_INSTANCE: Readonly<Record<string, string>> = Object.fromEntries(
  MAIN_ONLY_KEYS.map((key) => [key, 'belongs in [main]: it is a setting of the whole plugin']),
)

/** The section of addresses that pipe_transport leaves to Haraka's other queue plugins. */
export const UNROUTED_SECTION = 'unrouted'
/** Sub-sections an instance (or `[main]`, as defaults) may have. */
const SUBSECTIONS = ['code', 'env', 'address'] as const

export function checkMainKeys(values: RawSection, problems: Problems): void {
  checkKeys('main', values, MAIN_KEYS, MISPLACED_IN_MAIN, problems)
}

export function checkInstanceKeys(name: string, values: RawSection, problems: Problems): void {
  checkKeys(name, values, INSTANCE_KEYS, MISPLACED_IN_INSTANCE, problems)
}

function checkKeys(
  section: string,
  values: RawSection,
  known: readonly string[],
  misplaced: Readonly<Record<string, string>>,
  problems: Problems,
): void {
  for (const [key, value] of Object.entries(values)) {
    // haraka-config reads a line `timeout` with no "=" as the key with no value at all.
    if (known.includes(key)) {
      if (value === undefined) problems.error(section, key, `has no value; write "${key} = ..."`)
      continue
    }
    const near = closest(key, known)
    problems.error(
      section,
      key,
      REMOVED_KEYS[key] ??
        misplaced[key] ??
        `unknown key; ${near ? `did you mean "${near}"?` : `known keys here: ${known.join(', ')}`}`,
    )
  }
}

/** The instance sections, after checking that every `[a.b]` section is one that pipe_transport reads. */
export function instanceSections(
  sections: Readonly<Record<string, RawSection | undefined>>,
  problems: Problems,
): string[] {
  const names = Object.keys(sections).filter((section) => section !== 'main' && section !== UNROUTED_SECTION)
  const instances = names.filter((section) => !section.includes('.'))
  for (const section of names.filter((name) => name.includes('.'))) {
    const [name = '', sub = '', ...rest] = section.split('.')
    if (rest.length > 0 || !(SUBSECTIONS as readonly string[]).includes(sub) || name === UNROUTED_SECTION) {
      const near = rest.length > 0 || name === UNROUTED_SECTION ? undefined : closest(sub, SUBSECTIONS)
      const hint = near
        ? `did you mean [${name}.${near}]?`
        : 'use [NAME] for an instance, [NAME.code], [NAME.env] or [NAME.address] beside it'
      problems.error(section, undefined, `unknown section; ${hint}`)
    } else if (name === 'main' && sub === 'address') {
      problems.error(section, undefined, 'addresses are routed by an instance: use [NAME.address] beside [NAME]')
    } else if (name !== 'main' && sections[name] === undefined) {
      const near = closest(name, ['main', ...instances])
      problems.error(
        section,
        undefined,
        `there is no instance [${name}] for this section${near ? `; did you mean [${near}.${sub}]?` : ''}`,
      )
    }
  }
  return instances
}
