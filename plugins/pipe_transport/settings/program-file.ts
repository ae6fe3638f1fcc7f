// program_name and check_program name exactly the file that runs: no PATH search, and it must be
// an executable regular file when the config is loaded. `directory` must be a directory.
import { accessSync, constants, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { messageOf } from '../util/error-message.js'
import type { SectionReader } from './section-reader.js'

export function readProgram(reader: SectionReader, key: string, installDir: string): string {
  const value = reader.text(key, '')
  if (value === '') {
    reader.fail(key, 'is required: the absolute path of the program to run')
    return ''
  }
  const program = isAbsolute(value) ? value : resolve(installDir, value)
  try {
    if (!statSync(program).isFile()) reader.fail(key, `${program} is not a regular file`)
    else accessSync(program, constants.X_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    reader.fail(
      key,
      code === 'ENOENT'
        ? `${program} does not exist`
        : code === 'EACCES'
          ? `${program} is not executable`
          : `${program}: ${messageOf(err)}`,
    )
  }
  return program
}

export function readDirectory(reader: SectionReader, fallback: string, installDir: string): string {
  const directory = reader.path('directory', fallback, installDir)
  if (!isDirectory(directory)) reader.fail('directory', `${directory} is not a directory`)
  return directory
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
