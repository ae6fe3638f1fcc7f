// Starts a program through Node's child_process (fork, then exec): where posix_spawn cannot be had
// (no glibc or koffi), and for instances with `user`/`group`, which posix_spawn cannot change.
// Haraka opens the output files itself here (output-files.ts) and hands the child their descriptors.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import type { ProgramSpec } from '../invocation/program-spec.js'
import { failure, ok, type Result } from '../util/result.js'
import { markCloseOnExec } from './close-on-exec.js'
import { O_NONBLOCK, libc } from './libc.js'
import { closePipe, openPipe, type Pipe } from './pipes.js'
import { QuietPipe } from './quiet-pipe.js'
import { startFailure } from './start-failure.js'
import type { ExitStatus } from './reaper.js'
import type { StartedProgram } from './started-program.js'
import { tooLargeToStart } from './too-large.js'

export async function spawnWithChildProcess(
  spec: ProgramSpec,
  output: FileHandle | undefined,
  error: FileHandle | undefined,
  /** Only stderr's first line is wanted: it goes nowhere else (error_file = /dev/null, no echo). */
  quietStderr: boolean,
): Promise<Result<StartedProgram>> {
  // No descriptor of Haraka's but the three it is given may reach the child (close-on-exec.ts).
  markCloseOnExec()
  const quiet = spec.capture.stderr && quietStderr ? quietPipe() : undefined
  // spawn() throws synchronously for some bad input (a NUL byte in an argument, an invalid uid);
  // runProgram turns that into a start failure. E2BIG is thrown too, and said in words here.
  let child
  try {
    child = spawnChild(spec, output, quiet?.write ?? (spec.capture.stderr ? 'pipe' : (error?.fd ?? 'ignore')))
  } catch (err) {
    if (quiet && libc) closePipe(libc, quiet)
    if ((err as NodeJS.ErrnoException).code === 'E2BIG') return failure(tooLargeToStart(spec))
    throw err
  }
  // The child has its copy of the write end, or never ran: ours must go, or EOF never comes.
  if (quiet) libc?.close(quiet.write)
  const { stdin, stdout, stderr, pid } = child
  // With no pid the program never started (ENOENT, EACCES, ENOEXEC ...): 'error' follows, and
  // nothing must be written to a stdin that has no reader.
  if (pid === undefined || !stdin) {
    if (quiet) libc?.close(quiet.read)
    const [err] = (await once(child, 'error')) as [NodeJS.ErrnoException]
    return failure(
      err.code === undefined ? `cannot start ${spec.program}: ${err.message}` : startFailure(spec.program, err.code),
    )
  }
  const exited = new Promise<ExitStatus>((resolve) =>
    child.once('exit', (status, signal) => resolve({ status, signal })),
  )
  // 'close' follows once our ends of its stdio are closed too. Listen now: it can come in the
  // same tick as 'exit'.
  const closed = once(child, 'close').then(() => undefined)
  return ok({
    pid,
    prefilled: 0,
    stdin: stdin as StartedProgram['stdin'],
    stdout: stdout ?? undefined,
    stderr: quiet ? new QuietPipe(quiet.read) : (stderr ?? undefined),
    exited,
    closed,
  })
}

/**
 * With nowhere to copy stderr to (error_file = /dev/null), only its first line is wanted: a pipe of
 * our own, read as a QuietPipe as posix_spawn's is, where glibc is there to make one. Node's own
 * pipe would hand Haraka a new Buffer for every read of whatever the program writes.
 */
function quietPipe(): Pipe | undefined {
  if (!libc) return undefined
  const pipe = openPipe(libc)
  if (!pipe.ok) return undefined
  if (libc.setStatusFlags(pipe.value.read, O_NONBLOCK) === 0) return pipe.value
  closePipe(libc, pipe.value)
  return undefined
}

function spawnChild(
  spec: ProgramSpec,
  output: FileHandle | undefined,
  stderr: number | 'pipe' | 'ignore',
): ChildProcess {
  return spawn(spec.program, spec.argv, {
    stdio: ['pipe', spec.capture.stdout ? 'pipe' : (output?.fd ?? 'ignore'), stderr],
    env: spec.env,
    cwd: spec.directory,
    // setsid(): its own session and process group.
    detached: true,
    ...(spec.uid === undefined ? {} : { uid: spec.uid }),
    ...(spec.gid === undefined ? {} : { gid: spec.gid }),
  })
}
