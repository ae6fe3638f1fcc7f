// program_name and check_program name exactly the file that runs: no PATH search, and it must be
// an executable regular file when the config is loaded, whose `#!` interpreter, if it has one,
// exists too. What an operator coming from a shell or from Postfix's `argv=` writes instead (the
// command with its arguments, a bare name found on PATH) gets an error that says how to write it.
// `directory` must be a directory.
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, isAbsolute, join, resolve } from 'node:path'
import { messageOf } from '../util/error-message.js'
import { shebangOf } from '../util/script-interpreter.js'
import type { SectionReader } from './section-reader.js'

/** The keys beside each program key that take its arguments. */
const ARGUMENTS_KEY: Readonly<Record<string, string>> = {
  program_name: 'arguments',
  check_program: 'check_arguments',
}

/**
 * The program's path, or '' when the key is not set. `searchPath` is the PATH the program will
 * get: where `#!/usr/bin/env NAME` finds NAME; undefined when it is not known at load (a macro).
 */
export function readProgram(
  reader: SectionReader,
  key: string,
  installDir: string,
  searchPath: string | undefined,
): string {
  const value = reader.text(key, '')
  if (value === '') {
    reader.fail(key, 'is required: the absolute path of the program to run')
    return ''
  }
  // Quotes haraka-config keeps are reported where the text is read (ini-text.ts).
  if (/^(["']).*\1$/.test(value)) return value
  const program = isAbsolute(value) ? value : resolve(installDir, value)
  const problem = fileProblem(program)
  if (problem === undefined) {
    const interpreter = interpreterProblem(program, searchPath)
    if (interpreter !== undefined) reader.fail(key, `${program} ${interpreter}: the program cannot start`)
  } else reader.fail(key, misreadProgram(key, value, installDir) ?? `${program} ${problem}`)
  return program
}

export function readDirectory(reader: SectionReader, fallback: string, installDir: string): string {
  const directory = reader.path('directory', fallback, installDir)
  if (!isDirectory(directory)) reader.fail('directory', `${directory} is not a directory`)
  return directory
}

/** Why the file cannot run, or undefined. */
function fileProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'is not a regular file'
    accessSync(path, constants.X_OK)
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOENT'
      ? 'does not exist'
      : code === 'EACCES'
        ? 'is not executable'
        : `cannot be used: ${messageOf(err)}`
  }
}

/**
 * The command with its arguments (Postfix's `argv=` and Momentum's `program_name` with a command
 * line), or a bare name as a shell would find it on PATH: what was meant, and how to write it.
 */
function misreadProgram(key: string, value: string, installDir: string): string | undefined {
  const [command = '', ...rest] = value.split(/\s+/)
  const path = isAbsolute(command) ? command : resolve(installDir, command)
  const onPath = command.includes('/') ? undefined : findOnPath(command)
  const meant = fileProblem(path) === undefined ? path : onPath
  const argumentsKey = ARGUMENTS_KEY[key] ?? 'arguments'
  if (rest.length > 0) {
    const holds = `"${value}" holds arguments: ${key} names the file alone, and the arguments go in ${argumentsKey}`
    return meant === undefined
      ? `${holds}; ${path} does not exist either`
      : `${holds}: write "${key} = ${meant}" and "${argumentsKey} = ${rest.join(' ')}"`
  }
  if (onPath !== undefined)
    return `${path} does not exist, and PATH is not searched: for ${onPath}, write "${key} = ${onPath}"`
  if (!command.includes('/'))
    return `${path} does not exist: a name without "/" is taken in the Haraka install dir, and PATH is not searched; give the program's absolute path`
  return undefined
}

/** The executable file of that name on Haraka's PATH, or on the one programs get. */
function findOnPath(name: string): string | undefined {
  if (name === '') return undefined
  const dirs = `${process.env['PATH'] ?? ''}${delimiter}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`
  for (const dir of dirs.split(delimiter).filter((entry) => isAbsolute(entry))) {
    const candidate = join(dir, name)
    if (fileProblem(candidate) === undefined) return candidate
  }
  return undefined
}

/**
 * A script whose `#!` interpreter does not exist fails to start with ENOENT, as if the script
 * itself were missing: found here, at load, with the interpreter named.
 */
function interpreterProblem(program: string, searchPath: string | undefined): string | undefined {
  const shebang = shebangOf(program)
  if (shebang === undefined) return undefined
  const { line, interpreter, argument } = shebang
  const problem = fileProblem(interpreter)
  if (problem !== undefined) return `starts with "${line}", and its interpreter ${interpreter} ${problem}`
  // `#!/usr/bin/env NAME` finds NAME on the program's own PATH.
  if (interpreter.endsWith('/env') && argument !== undefined && !argument.startsWith('-') && searchPath !== undefined) {
    const found = searchPath
      .split(delimiter)
      .filter((dir) => isAbsolute(dir))
      .some((dir) => fileProblem(join(dir, argument)) === undefined)
    if (!found) return `starts with "${line}", and ${argument} is not on the program's PATH ${searchPath}`
  }
  return undefined
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
