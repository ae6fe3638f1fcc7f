// The pipes Haraka makes itself for a program's stdio, through glibc where koffi is there:
// pipe2(O_CLOEXEC), so that no other child (another delivery, the guardian) inherits an end and
// holds its EOF off. posix-spawn.ts makes all of a program's pipes this way; child-process-spawn.ts
// the one of a stderr that only its first line is wanted of.
import { describeErrno, O_CLOEXEC, type Libc } from './libc.js'
import { failure, ok, type Result } from '../util/result.js'

export interface Pipe {
  readonly read: number
  readonly write: number
}

export function openPipe(libc: Libc): Result<Pipe> {
  const fds: [number, number] = [0, 0]
  if (libc.pipe2(fds, O_CLOEXEC) !== 0) return failure(`cannot make a pipe: ${describeErrno(libc.errno())}`)
  return ok({ read: fds[0], write: fds[1] })
}

export function closePipe(libc: Libc, pipe: Pipe): void {
  libc.close(pipe.read)
  libc.close(pipe.write)
}
