// What a failed start says in the log, whichever way the program was started. execve's ENOENT
// means the file or its `#!` interpreter is missing; the program was there at load, so the
// interpreter is named when it is the one that is missing.
import { existsSync } from 'node:fs'
import { shebangOf } from '../util/script-interpreter.js'

/** `cannot start PROGRAM: ...` for the errno name (`ENOENT`) that ended the start. */
export function startFailure(program: string, code: string): string {
  const spawned = `spawn ${program} ${code}`
  if (code !== 'ENOENT' || !existsSync(program)) return `cannot start ${program}: ${spawned}`
  const shebang = shebangOf(program)
  if (shebang === undefined || existsSync(shebang.interpreter)) return `cannot start ${program}: ${spawned}`
  return `cannot start ${program}: its #! interpreter ${shebang.interpreter} does not exist (${spawned})`
}
