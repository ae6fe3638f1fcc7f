// One instance section (`[NAME]`, with [main] as its defaults) into an Instance.
import { readCheckProgram } from './check-program.js'
import { readCircuitBreaker } from './circuit-breaker.js'
import { readDomains } from './domains.js'
import { readEnv } from './environment.js'
import { readExitCodes } from './exit-codes.js'
import { readIdentity } from './identity.js'
import { checkInstanceKeys } from './keys.js'
import { outputPathProblem } from './output-paths.js'
import type { Problems } from './problems.js'
import { readDirectory, readProgram } from './program-file.js'
import { PRESETS, type PresetName } from './replies.js'
import { SectionReader, type RawSection } from './section-reader.js'
import { parseArguments } from './templates.js'
import type { Instance, MessageShape } from './vocabulary.js'

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
} as const

export interface ReadContext {
  /** Relative paths resolve against the Haraka install dir. */
  readonly installDir: string
  /**
   * `user` and `group` can only be honoured by a process that is root when it delivers: Haraka
   * started as root that does not drop privileges (`user` in smtp.ini).
   */
  readonly runningAsRoot: boolean
}

export function readInstance(
  name: string,
  sections: Readonly<Record<string, RawSection | undefined>>,
  context: ReadContext,
  problems: Problems,
): Instance {
  const own = sections[name] ?? {}
  checkInstanceKeys(name, own, problems)
  const reader = new SectionReader(name, own, problems, {
    values: sections['main'] ?? {},
    inherits: (key) => key !== 'domain',
  })
  const { installDir } = context

  const program = readProgram(reader, 'program_name', installDir)
  const parsedArguments = parseArguments(reader.text('arguments', DEFAULTS.arguments))
  if (!parsedArguments.ok) reader.fail('arguments', parsedArguments.error)
  const directory = readDirectory(reader, DEFAULTS.directory, installDir)
  const recipientLimit = reader.has('recipient_limit') ? reader.integer('recipient_limit', 1, 1, 100000) : undefined
  const shape = readShape(reader, recipientLimit)
  const domains = readDomains(reader)
  const preset = reader.choice('code_preset', Object.keys(PRESETS) as PresetName[], DEFAULTS.code_preset)
  const identity = readIdentity(reader, context.runningAsRoot)
  const outputFile = reader.path('output_file', DEFAULTS.output_file, installDir)
  const errorFile = reader.path('error_file', DEFAULTS.error_file, installDir)
  if (identity.uid !== undefined && identity.gid !== undefined) {
    const who = { name: reader.text('user', ''), uid: identity.uid, gid: identity.gid }
    for (const [key, file] of [
      ['output_file', outputFile],
      ['error_file', errorFile],
    ] as const) {
      const problem = outputPathProblem(file, who)
      if (problem !== undefined) reader.fail(key, `${file}: ${problem}`)
    }
  }

  return {
    name,
    program,
    arguments: parsedArguments.ok ? parsedArguments.value : [],
    domains,
    outputFile,
    errorFile,
    directory,
    timeoutSeconds: reader.integer('timeout', DEFAULTS.timeout, 1, MAX_TIMEOUT_SECONDS),
    maxConcurrency: reader.integer('max_concurrency', DEFAULTS.max_concurrency, 1, 10000),
    ...identity,
    env: readEnv(name, sections, problems),
    exitCodes: readExitCodes(name, sections, PRESETS[preset], problems),
    statusFromStderr: reader.flag('status_from_stderr'),
    shape,
    recipientLimit,
    acceptsAtRcpt: reader.flag('check_recipient'),
    lowercaseLocalPart: reader.flag('lowercase_local_part'),
    checkProgram: readCheckProgram(reader, installDir),
    circuitBreaker: readCircuitBreaker(reader),
  }
}

function readShape(reader: SectionReader, recipientLimit: number | undefined): MessageShape {
  const shape: MessageShape = {
    lineEnding: reader.choice('line_endings', ['lf', 'crlf'], DEFAULTS.line_endings) === 'crlf' ? '\r\n' : '\n',
    returnPath: reader.flag('return_path'),
    deliveredTo: reader.flag('delivered_to'),
    xOriginalTo: reader.flag('x_original_to'),
    fromLine: reader.flag('from_line'),
  }
  if (shape.deliveredTo && recipientLimit !== 1) {
    reader.fail('delivered_to', 'needs recipient_limit = 1: a message can name only one Delivered-To recipient')
  }
  if (shape.xOriginalTo && recipientLimit !== 1) {
    reader.fail('x_original_to', 'needs recipient_limit = 1: a message can name only one X-Original-To recipient')
  }
  return shape
}
