// Reads pipe_transport.ini (as parsed by haraka-config) into checked, immutable instances.
// Every problem is collected, not just the first, and each names its section and key, so an
// operator fixes a file in one pass. A typo is an error, never a silent default.
import { accessSync, constants, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { lookupGroup, lookupUser } from './accounts.js'
import { closest } from './did-you-mean.js'
import { parseFlag, parseWholeNumber } from './ini-values.js'
import { outputPathProblem } from './output-paths.js'
import { parseArguments, parseTemplate, type Template, type WordTemplate } from '../invocation/arguments.js'
import { TRANSACTION_VARIABLES } from '../invocation/environment.js'
import { PRESETS, parseReplyLine, replyLine, type ExitCodeTable, type PresetName, type Reply } from './replies.js'
import { RouteTable, isDomainEntry } from '../routing/route.js'
import type { Ini } from './ini-text.js'
import { JOURNAL_KEYS, readJournalConfig, type JournalConfig } from './journal-settings.js'
import { UNROUTED_SECTION, routeEntries } from './route-entries.js'

/**
 * A delivery may wait `timeout` for a slot and then run for `timeout`, plus the kill grace. SMTP
 * clients wait 10 minutes for the reply to the final dot (RFC 5321 4.5.3.2.6), so two timeouts
 * must fit well inside that.
 */
export const MAX_TIMEOUT_SECONDS = 280

export const DEFAULTS = {
  arguments: '',
  output_file: '/dev/null',
  error_file: '/dev/null',
  directory: '/',
  timeout: 60,
  max_concurrency: 10,
  code_preset: 'seed',
  line_endings: 'lf',
  check_timeout: 5,
  check_cache: 60,
} as const

/** How the message is shaped for one program; never changes the transaction itself. */
export interface MessageShape {
  readonly lineEnding: '\n' | '\r\n'
  /** Prepend `Return-Path: <sender>`. */
  readonly returnPath: boolean
  /** Prepend `Delivered-To: recipient` (one recipient per run), and refuse a message that has it already. */
  readonly deliveredTo: boolean
  /** Prepend `X-Original-To: original recipient` (one recipient per run). */
  readonly xOriginalTo: boolean
  /** Start with an mbox `From sender date` line and escape body lines starting `From `. */
  readonly fromLine: boolean
}

export interface Instance {
  readonly name: string
  readonly program: string
  readonly arguments: readonly WordTemplate[]
  /** `domain` entries, lower-case: `example.com`, `*.example.com`, `*`. */
  readonly domains: readonly string[]
  readonly outputFile: string
  readonly errorFile: string
  readonly directory: string
  readonly timeoutSeconds: number
  readonly maxConcurrency: number
  readonly uid: number | undefined
  readonly gid: number | undefined
  /** `[main.env]` and `[NAME.env]`, their values with macros. */
  readonly env: Readonly<Record<string, Template>>
  readonly exitCodes: ExitCodeTable
  /** Let a failing program's first stderr line, if it starts with an enhanced code, be the reply. */
  readonly statusFromStderr: boolean
  readonly shape: MessageShape
  /** Most recipients per transaction (and so per program run); undefined for no limit. */
  readonly recipientLimit: number | undefined
  /** Accept (OK) this instance's recipients at RCPT, so they need no other rcpt plugin. */
  readonly checkRecipient: boolean
  /** lowercase_local_part (Postfix flag u): the local part in lower case in macros and environment. */
  readonly lowercaseLocalPart: boolean
  /** check_program: asked at RCPT whether a recipient exists (routing/recipient-check.ts). */
  readonly recipientCheck: RecipientCheck | undefined
}

export interface RecipientCheck {
  readonly program: string
  readonly arguments: readonly WordTemplate[]
  readonly timeoutSeconds: number
  /** How long an answer (exists, or does not) is reused; 0 asks every time. */
  readonly cacheSeconds: number
}

export interface Settings {
  readonly instances: readonly Instance[]
  readonly routes: RouteTable<Instance>
  /** How many `[NAME.address]` entries each instance has (the routing table holds them). */
  readonly addressCounts: ReadonlyMap<Instance, number>
  /** recipient_delimiter: the characters that start an address extension; undefined for none. */
  readonly recipientDelimiter: string | undefined
  /** Deliver routed domains for relaying clients too (queue_outbound). */
  readonly enableOutbound: boolean
  readonly journal: JournalConfig
}

export interface ConfigError {
  readonly section: string
  readonly key?: string
  readonly message: string
}

export function formatConfigError(file: string, error: ConfigError): string {
  return `${file} [${error.section}]${error.key === undefined ? '' : ` ${error.key}`}: ${error.message}`
}

export interface ReadContext {
  /** Relative paths resolve against the Haraka install dir. */
  readonly installDir: string
  /**
   * `user` and `group` can only be honoured by a process that is root when it delivers: Haraka
   * started as root that does not drop privileges (`user` in smtp.ini).
   */
  readonly runningAsRoot: boolean
}

/** haraka-config's result: sections of key/value pairs, `[a.b]` being one flat section. */
export type RawIni = Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>

/** Keys an instance section may hold; all but `domain` may also be set in `[main]` as defaults. */
const INSTANCE_KEYS = [
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
] as const
type InstanceKey = (typeof INSTANCE_KEYS)[number]
/** Keys that concern the whole plugin rather than one instance. */
const MAIN_ONLY_KEYS = ['enable_outbound', 'recipient_delimiter', ...JOURNAL_KEYS] as const
/**
 * Keys that earlier versions took, with what to do about them: an error rather than an unknown
 * key, so that the operator learns why.
 */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  spawn_helpers: 'is no longer used: programs start with posix_spawn in Haraka itself, which needs no helper processes; remove this line',
}
/** `[main]` takes every instance key but `domain` (as defaults), and the keys of the whole plugin. */
const MAIN_KEYS: readonly string[] = [...INSTANCE_KEYS.filter((key) => key !== 'domain'), ...MAIN_ONLY_KEYS]
/** Known keys written in the wrong kind of section, with where they belong. */
const MISPLACED_IN_MAIN: Readonly<Record<string, string>> = {
  domain: 'belongs in an instance section: [main] holds what every instance inherits, and a domain has one instance',
}
const MISPLACED_IN_INSTANCE: Readonly<Record<string, string>> = Object.fromEntries(
  MAIN_ONLY_KEYS.map((key) => [key, 'belongs in [main]: it is a setting of the whole plugin']),
)

/** Sub-sections an instance (or `[main]`, as defaults) may have. */
const SUBSECTIONS = ['code', 'env', 'address'] as const

/**
 * The settings, or every error; warnings either way. A warning is a setting that works but is
 * most likely not what the operator meant. The errors include what haraka-config's parse of the
 * text lost (ini-text.ts).
 */
export function readSettings(
  ini: Ini,
  context: ReadContext,
): { settings: Settings; warnings: ConfigError[] } | { errors: ConfigError[]; warnings: ConfigError[] } {
  const raw = ini.sections
  const errors: ConfigError[] = []
  const warnings: ConfigError[] = []
  const main = raw['main'] ?? {}
  checkKeys('main', main, MAIN_KEYS, errors, MISPLACED_IN_MAIN)

  const sections = Object.keys(raw).filter((section) => section !== 'main' && section !== UNROUTED_SECTION)
  const instanceNames = sections.filter((section) => !section.includes('.'))
  for (const section of sections.filter((name) => name.includes('.'))) {
    const [name = '', sub = '', ...rest] = section.split('.')
    if (rest.length > 0 || !(SUBSECTIONS as readonly string[]).includes(sub) || name === UNROUTED_SECTION) {
      const near = rest.length > 0 || name === UNROUTED_SECTION ? undefined : closest(sub, SUBSECTIONS)
      const hint = near ? `did you mean [${name}.${near}]?` : 'use [NAME] for an instance, [NAME.code], [NAME.env] or [NAME.address] beside it'
      errors.push({ section, message: `unknown section; ${hint}` })
    } else if (name === 'main' && sub === 'address') {
      errors.push({ section, message: 'addresses are routed by an instance: use [NAME.address] beside [NAME]' })
    } else if (name !== 'main' && raw[name] === undefined) {
      const near = closest(name, ['main', ...instanceNames])
      errors.push({ section, message: `there is no instance [${name}] for this section${near ? `; did you mean [${near}.${sub}]?` : ''}` })
    }
  }

  const enableOutbound = parseFlag(main['enable_outbound'] ?? 'true')
  if (enableOutbound === undefined) {
    errors.push({ section: 'main', key: 'enable_outbound', message: `"${String(main['enable_outbound'])}" must be true or false` })
  }
  const recipientDelimiter = readRecipientDelimiter(main['recipient_delimiter'], errors)
  const journal = readJournalConfig(main, context.installDir, errors)

  const instances = instanceNames.map((name) => readInstance(name, raw, context, errors, warnings))
  const { addressCounts, ...entries } = routeEntries(instances, ini, errors)
  for (const instance of instances) {
    if (instance.domains.length === 0 && !addressCounts.get(instance)) {
      errors.push({ section: instance.name, key: 'domain', message: `is required, or a [${instance.name}.address] section: the recipients this instance delivers` })
    }
  }
  const routes = new RouteTable(entries)
  if (errors.length > 0 || ini.problems.length > 0) return { errors: [...ini.problems, ...once(errors)], warnings: once(warnings) }
  return {
    settings: { instances, routes, addressCounts, recipientDelimiter, enableOutbound: enableOutbound ?? true, journal },
    warnings: once(warnings),
  }
}

/** [main.code] and [main.env] are read once per instance; each of their problems is reported once. */
function once(problems: readonly ConfigError[]): ConfigError[] {
  return [...new Map(problems.map((problem) => [formatConfigError('', problem), problem])).values()]
}

/** One or more characters; the extension starts at the first of them in a local part (Postfix). */
function readRecipientDelimiter(value: unknown, errors: ConfigError[]): string | undefined {
  if (value === undefined) return undefined
  const text = String(value).trim()
  if (text === '' || /[\s@"\\]/.test(text)) {
    errors.push({ section: 'main', key: 'recipient_delimiter', message: `"${text}" must be one or more characters other than white space, @, " and \\, e.g. +` })
    return undefined
  }
  return text
}

function checkKeys(
  section: string,
  values: Readonly<Record<string, unknown>>,
  known: readonly string[],
  errors: ConfigError[],
  misplaced: Readonly<Record<string, string>>,
): void {
  for (const [key, value] of Object.entries(values)) {
    // haraka-config reads a line `timeout` with no "=" as the key with no value at all.
    if (known.includes(key)) {
      if (value === undefined) errors.push({ section, key, message: `has no value; write "${key} = ..."` })
      continue
    }
    const near = closest(key, known)
    const message = REMOVED_KEYS[key] ?? misplaced[key] ?? `unknown key; ${near ? `did you mean "${near}"?` : `known keys here: ${known.join(', ')}`}`
    errors.push({ section, key, message })
  }
}

function readInstance(name: string, raw: RawIni, context: ReadContext, errors: ConfigError[], warnings: ConfigError[]): Instance {
  const own = raw[name] ?? {}
  const main = raw['main'] ?? {}
  checkKeys(name, own, INSTANCE_KEYS, errors, MISPLACED_IN_INSTANCE)

  /** The instance's value for a key, else `[main]`'s, with the section it came from. */
  const lookup = (key: InstanceKey): { value: unknown; section: string } | undefined => {
    if (own[key] !== undefined) return { value: own[key], section: name }
    if (key !== 'domain' && main[key] !== undefined) return { value: main[key], section: 'main' }
    return undefined
  }
  const fail = (key: InstanceKey, message: string): void => {
    errors.push({ section: lookup(key)?.section ?? name, key, message })
  }
  const text = (key: InstanceKey, fallback: string): string => {
    const found = lookup(key)
    if (found === undefined) return fallback
    if (typeof found.value !== 'string' && typeof found.value !== 'number') {
      fail(key, 'must be a single value')
      return fallback
    }
    return String(found.value).trim()
  }
  const integer = (key: InstanceKey, fallback: number, min: number, max: number): number => {
    const number = parseWholeNumber(text(key, String(fallback)), min, max)
    if ('error' in number) {
      fail(key, number.error)
      return fallback
    }
    return number.value
  }
  const path = (key: InstanceKey, fallback: string): string => resolve(context.installDir, text(key, fallback))
  const choice = <Choice extends string>(key: InstanceKey, choices: readonly Choice[], fallback: Choice): Choice => {
    const value = text(key, fallback).toLowerCase()
    if ((choices as readonly string[]).includes(value)) return value as Choice
    fail(key, `"${value}" must be one of: ${choices.join(', ')}`)
    return fallback
  }
  const flag = (key: InstanceKey): boolean => {
    const value = text(key, 'false')
    const parsed = parseFlag(value)
    if (parsed === undefined) fail(key, `"${value}" must be true or false`)
    return parsed ?? false
  }

  const program = readProgram(text('program_name', ''), context.installDir, (message) => fail('program_name', message))
  const parsedArguments = parseArguments(text('arguments', DEFAULTS.arguments))
  if ('error' in parsedArguments) fail('arguments', parsedArguments.error)

  const directory = path('directory', DEFAULTS.directory)
  if (!isDirectory(directory)) fail('directory', `${directory} is not a directory`)

  const recipientLimit = lookup('recipient_limit') === undefined ? undefined : integer('recipient_limit', 1, 1, 100000)
  const shape: MessageShape = {
    lineEnding: choice('line_endings', ['lf', 'crlf'], DEFAULTS.line_endings) === 'crlf' ? '\r\n' : '\n',
    returnPath: flag('return_path'),
    deliveredTo: flag('delivered_to'),
    xOriginalTo: flag('x_original_to'),
    fromLine: flag('from_line'),
  }
  if (shape.deliveredTo && recipientLimit !== 1) {
    fail('delivered_to', 'needs recipient_limit = 1: a message can name only one Delivered-To recipient')
  }
  if (shape.xOriginalTo && recipientLimit !== 1) {
    fail('x_original_to', 'needs recipient_limit = 1: a message can name only one X-Original-To recipient')
  }
  const domains = readDomains(lookup('domain')?.value, (message) => fail('domain', message))
  const preset = choice('code_preset', Object.keys(PRESETS) as PresetName[], DEFAULTS.code_preset)
  const user = text('user', '')
  const identity = readIdentity(user, text('group', ''), context.runningAsRoot, fail)
  const outputFile = path('output_file', DEFAULTS.output_file)
  const errorFile = path('error_file', DEFAULTS.error_file)
  if (identity.uid !== undefined && identity.gid !== undefined) {
    const who = { name: user, uid: identity.uid, gid: identity.gid }
    for (const [key, file] of [['output_file', outputFile], ['error_file', errorFile]] as const) {
      const problem = outputPathProblem(file, who)
      if (problem !== undefined) fail(key, `${file}: ${problem}`)
    }
  }

  return {
    name,
    program,
    arguments: 'words' in parsedArguments ? parsedArguments.words : [],
    domains,
    outputFile,
    errorFile,
    directory,
    timeoutSeconds: integer('timeout', DEFAULTS.timeout, 1, MAX_TIMEOUT_SECONDS),
    maxConcurrency: integer('max_concurrency', DEFAULTS.max_concurrency, 1, 10000),
    ...identity,
    env: readEnv(name, raw, errors),
    exitCodes: readExitCodes(name, raw, PRESETS[preset], errors, warnings),
    statusFromStderr: flag('status_from_stderr'),
    shape,
    recipientLimit,
    checkRecipient: flag('check_recipient'),
    lowercaseLocalPart: flag('lowercase_local_part'),
    recipientCheck: readRecipientCheck(),
  }

  function readRecipientCheck(): RecipientCheck | undefined {
    const checkProgram = text('check_program', '')
    if (checkProgram === '') {
      for (const key of ['check_arguments', 'check_timeout', 'check_cache'] as const) if (lookup(key)) fail(key, 'needs check_program')
      return undefined
    }
    const parsed = parseArguments(text('check_arguments', ''))
    if ('error' in parsed) fail('check_arguments', parsed.error)
    return {
      program: readProgram(checkProgram, context.installDir, (message) => fail('check_program', message)),
      arguments: 'words' in parsed ? parsed.words : [],
      timeoutSeconds: integer('check_timeout', DEFAULTS.check_timeout, 1, 30),
      cacheSeconds: integer('check_cache', DEFAULTS.check_cache, 0, 3600),
    }
  }
}

function readProgram(value: string, installDir: string, fail: (message: string) => void): string {
  if (value === '') {
    fail('is required: the absolute path of the program to run')
    return ''
  }
  // No PATH search: the operator names exactly the file that runs.
  const program = isAbsolute(value) ? value : resolve(installDir, value)
  try {
    if (!statSync(program).isFile()) fail(`${program} is not a regular file`)
    else accessSync(program, constants.X_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    fail(code === 'ENOENT' ? `${program} does not exist` : code === 'EACCES' ? `${program} is not executable` : `${program}: ${String(err)}`)
  }
  return program
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function readDomains(value: unknown, fail: (message: string) => void): string[] {
  // `domain = a.example, b.example` gives a string; `domain[] = a.example` lines give an array.
  const items = Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)]
  const domains = items.flatMap((item) => item.split(/[\s,]+/)).filter((entry) => entry !== '').map((entry) => entry.toLowerCase())
  for (const domain of domains) {
    if (!isDomainEntry(domain)) fail(`"${domain}" is not a domain, "*.domain" or "*"`)
  }
  const seen = new Set<string>()
  for (const domain of domains) {
    if (seen.has(domain)) fail(`${domain} is listed twice`)
    seen.add(domain)
  }
  return [...seen]
}

function readIdentity(
  user: string,
  group: string,
  runningAsRoot: boolean,
  fail: (key: InstanceKey, message: string) => void,
): { uid: number | undefined; gid: number | undefined } {
  if (user === '' && group === '') return { uid: undefined, gid: undefined }
  if (!runningAsRoot) {
    fail(user === '' ? 'group' : 'user', 'needs Haraka to run as root and stay root (no user in smtp.ini)')
    return { uid: undefined, gid: undefined }
  }
  const account = user === '' ? undefined : lookupUser(user)
  if (user !== '' && account === undefined) fail('user', `no such user "${user}"`)
  if (account?.uid === 0) fail('user', 'programs never run as root (uid 0)')
  const gid = group === '' ? account?.gid : lookupGroup(group)
  if (group !== '' && gid === undefined) fail('group', `no such group "${group}"`)
  if (gid === 0) fail(group === '' ? 'user' : 'group', 'programs never run with group root (gid 0)')
  if (account !== undefined && gid === undefined) fail('group', `is required: user "${user}" has no passwd entry to take a group from`)
  return { uid: account?.uid, gid }
}

/** `[main.env]`, then `[NAME.env]`; values may hold the macros of `arguments`. */
function readEnv(name: string, raw: RawIni, errors: ConfigError[]): Record<string, Template> {
  const env: Record<string, Template> = {}
  for (const section of ['main.env', `${name}.env`]) {
    for (const [key, value] of Object.entries(raw[section] ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) errors.push({ section, key, message: 'is not a valid environment variable name' })
      else if (value === undefined) errors.push({ section, key, message: `has no value; write "${key} = ..." ("${key} =" sets it empty)` })
      else if (TRANSACTION_VARIABLES.includes(key)) {
        errors.push({ section, key, message: 'is set by pipe_transport from the transaction and cannot be configured' })
      } else {
        const parsed = parseTemplate(String(value))
        if ('error' in parsed) errors.push({ section, key, message: parsed.error })
        else env[key] = parsed.template
      }
    }
  }
  return env
}

/** A text to suggest for a failure reply written without one. */
const EXAMPLE_TEXT = { denysoft: '4.3.0 try again later', deny: '5.3.0 delivery failed' } as const

/** The preset, overridden entry by entry by [main.code], then by [NAME.code]. */
function readExitCodes(name: string, raw: RawIni, preset: ExitCodeTable, errors: ConfigError[], warnings: ConfigError[]): ExitCodeTable {
  const entries = new Map<number, Reply>(preset.entries)
  let otherwise = preset.otherwise
  for (const section of ['main.code', `${name}.code`]) {
    for (const [key, value] of Object.entries(raw[section] ?? {})) {
      // haraka-config turns `0 = 250` into the number 250, and a line `75` into a key with no value.
      if (value === undefined) {
        errors.push({ section, key, message: `has no reply; write it as in "${key} = 450 ${EXAMPLE_TEXT.denysoft}"` })
        continue
      }
      const line = String(value)
      const reply = parseReplyLine(line)
      if ('error' in reply) errors.push({ section, key, message: reply.error })
      else if (reply.verdict !== 'ok' && reply.text === '') {
        errors.push({
          section,
          key,
          message: `"${line}" has no text, so the client would get Haraka's "${replyLine(reply)}"; write one, as in "${line} ${EXAMPLE_TEXT[reply.verdict]}"`,
        })
      } else if (key === 'default') otherwise = reply
      else if (/^\d+$/.test(key) && Number(key) <= 255) {
        if (Number(key) === 0 && reply.verdict !== 'ok') {
          const then = reply.verdict === 'denysoft' ? 'retries' : 'bounces'
          warnings.push({ section, key, message: `"${line}" answers a program that succeeded with a failure: the sender ${then} a message the program may have delivered` })
        }
        entries.set(Number(key), reply)
      } else errors.push({ section, key, message: 'must be an exit status from 0 to 255, or "default"' })
    }
  }
  return { entries, otherwise }
}
