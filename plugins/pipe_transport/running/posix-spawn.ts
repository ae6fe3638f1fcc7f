// Starts a program with glibc's posix_spawn. It uses clone(CLONE_VM|CLONE_VFORK): no page tables
// are copied, so starting a program costs a fraction of what fork() of a Node process costs
// (child_process), and that cost does not grow with Haraka's memory. The call runs on one of
// koffi's worker threads, and vfork suspends only that thread until the child has exec'd: Haraka's
// event loop goes on serving every other session meanwhile.
//
// Everything the child needs is said up front, and done by glibc in the child before exec:
// its own session and process group, default signal dispositions (Node ignores SIGPIPE and
// SIGXFSZ, and a program must not inherit that) and an empty signal mask, stdout and stderr
// opened for appending, stdin from a pipe, the working directory, and no descriptor but 0, 1, 2.
//
// A message in memory goes into the pipe before the program starts, as much of it as the pipe
// holds (64 KiB unless the system says otherwise): one write, and when it all fits, no socket on
// Haraka's event loop at all, and the program finds its whole input waiting.
import { accessSync, constants as fsConstants, statSync, writevSync } from 'node:fs'
import { Socket } from 'node:net'
import { getSystemErrorMap } from 'node:util'
import { messageOf } from '../util/error-message.js'
import {
  ATTRIBUTES_BYTES,
  FILE_ACTIONS_BYTES,
  O_NONBLOCK,
  POSIX_SPAWN_SETSID,
  POSIX_SPAWN_SETSIGDEF,
  POSIX_SPAWN_SETSIGMASK,
  SIGSET_BYTES,
  describeErrno,
  type Libc,
} from './libc.js'
import { OUTPUT_FLAGS, OUTPUT_MODE, outputFileProblem } from './output-files.js'
import { closePipe, openPipe, type Pipe } from './pipes.js'
import { QuietPipe } from './quiet-pipe.js'
import { Reaper } from './reaper.js'
import { startFailure } from './start-failure.js'
import type { StartedProgram } from './started-program.js'
import { tooLargeToStart } from './too-large.js'
import type { ProgramSpec } from '../invocation/program-spec.js'
import { failure, ok, type Result } from '../util/result.js'

export class PosixSpawner {
  private readonly reaper: Reaper
  /** The same for every program, so set up once; glibc only reads them. */
  private readonly attributes = Buffer.alloc(ATTRIBUTES_BYTES)

  constructor(private readonly libc: Libc) {
    this.reaper = new Reaper(libc)
    const every = Buffer.alloc(SIGSET_BYTES)
    every.fill(0xff, 0, 8) // signals 1 to 64: glibc's sigfillset would leave out its own two
    const none = Buffer.alloc(SIGSET_BYTES)
    check(libc.attributesInit(this.attributes), 'posix_spawnattr_init')
    check(
      libc.setFlags(this.attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK),
      'posix_spawnattr_setflags',
    )
    check(libc.setSigdefault(this.attributes, every), 'posix_spawnattr_setsigdefault')
    check(libc.setSigmask(this.attributes, none), 'posix_spawnattr_setsigmask')
  }

  /**
   * Starts the program, or says why it could not. A captured stdout or stderr is a pipe, which the
   * caller copies into its file (a `quiet` stderr is left unread for a moment: quiet-pipe.ts);
   * else it goes straight to its file. `input` is its input when that is in memory: what of it
   * the pipe takes is written before the start.
   */
  async start(
    spec: ProgramSpec,
    input: readonly Buffer[] | undefined,
    quiet: boolean,
  ): Promise<Result<StartedProgram>> {
    const nul = [spec.program, spec.directory, ...spec.argv, ...Object.entries(spec.env).flat()].some((text) =>
      text.includes('\0'),
    )
    // A C string ends at the first NUL: the program would get a shorter argument than configured.
    if (nul) return failure(`cannot start ${spec.program}: an argument or variable holds a NUL byte`)
    this.reaper.listen()
    const { libc } = this
    // Per start: several may be under way on worker threads at once.
    const fileActions = Buffer.alloc(FILE_ACTIONS_BYTES)
    const pidOut: [number] = [0]
    const stdinPipe = openPipe(libc)
    if (!stdinPipe.ok) return stdinPipe
    const stdin = stdinPipe.value
    const outputPipes = this.outputPipes(spec)
    if (!outputPipes.ok) {
      closePipe(libc, stdin)
      return outputPipes
    }
    const { stdout, stderr } = outputPipes.value
    const prefilled = input ? this.prefill(stdin.write, input) : 0
    const allPrefilled = input !== undefined && prefilled === byteLength(input)
    /** posix_spawn's errno (0: started), or why koffi did not make the call. */
    let failed: number | string
    try {
      check(libc.fileActionsInit(fileActions), 'posix_spawn_file_actions_init')
      if (stdout) libc.addDup2(fileActions, stdout.write, 1)
      else libc.addOpen(fileActions, 1, spec.outputFile, OUTPUT_FLAGS, OUTPUT_MODE)
      if (stderr) libc.addDup2(fileActions, stderr.write, 2)
      else libc.addOpen(fileActions, 2, spec.errorFile, OUTPUT_FLAGS, OUTPUT_MODE)
      libc.addDup2(fileActions, stdin.read, 0)
      libc.addChdir(fileActions, spec.directory)
      libc.addClosefrom(fileActions, 3)
      const argv = [spec.program, ...spec.argv, null]
      const envp = [...Object.entries(spec.env).map(([name, value]) => `${name}=${value}`), null]
      failed = await libc.posixSpawn(pidOut, spec.program, fileActions, this.attributes, argv, envp)
    } catch (err) {
      // koffi did not make the call (libc.ts queues the calls below its limit, so this is rare).
      failed = messageOf(err)
    } finally {
      libc.fileActionsDestroy(fileActions)
      // The child has its copies (or never ran); ours of its ends must go, or EOF never comes.
      libc.close(stdin.read)
      if (stdout) libc.close(stdout.write)
      if (stderr) libc.close(stderr.write)
      // The whole input is in the pipe: closing our end now is what makes its EOF.
      if (allPrefilled) libc.close(stdin.write)
    }
    if (failed !== 0) {
      if (!allPrefilled) libc.close(stdin.write)
      if (stdout) libc.close(stdout.read)
      if (stderr) libc.close(stderr.read)
      return failure(
        typeof failed === 'number' ? whyNotStarted(spec, failed) : `cannot start ${spec.program}: ${failed}`,
      )
    }
    const pid = pidOut[0]
    const rest = allPrefilled ? undefined : new Socket({ fd: stdin.write, readable: false, writable: true })
    // end() on a socket made from a pipe cannot shut it down and leaves it open: close it once
    // everything is written, so the program reads EOF.
    rest?.once('finish', () => rest.destroy())
    const reader = (pipe: { read: number } | undefined): Socket | undefined =>
      pipe ? new Socket({ fd: pipe.read, readable: true, writable: false }) : undefined
    const out = reader(stdout)
    const err =
      stderr && quiet && libc.setStatusFlags(stderr.read, O_NONBLOCK) === 0
        ? new QuietPipe(stderr.read)
        : reader(stderr)
    const sockets = [rest, out, err].filter((socket) => socket instanceof Socket)
    return ok({
      pid,
      prefilled,
      stdin: rest,
      stdout: out,
      stderr: err,
      exited: this.reaper.exitOf(pid),
      closed: Promise.all(sockets.map((socket) => new Promise((done) => socket.once('close', done)))).then(
        () => undefined,
      ),
    })
  }

  /**
   * Writes as much of the input as the empty pipe takes, without blocking: nobody reads it yet.
   * The write end stays non-blocking, as a socket made from it later needs it anyway.
   */
  private prefill(fd: number, input: readonly Buffer[]): number {
    if (input.length === 0) return 0
    try {
      if (this.libc.setStatusFlags(fd, O_NONBLOCK) !== 0) return 0
      return writevSync(fd, input)
    } catch {
      // EAGAIN, a pipe with no room at all: the socket writes everything instead.
      return 0
    }
  }

  /** The pipes of a captured stdout and stderr. */
  private outputPipes(spec: ProgramSpec): Result<{ stdout?: Pipe | undefined; stderr?: Pipe | undefined }> {
    const stdout = spec.capture.stdout ? openPipe(this.libc) : undefined
    if (stdout && !stdout.ok) return stdout
    const stderr = spec.capture.stderr ? openPipe(this.libc) : undefined
    if (stderr && !stderr.ok) {
      if (stdout) closePipe(this.libc, stdout.value)
      return stderr
    }
    return ok({ stdout: stdout?.value, stderr: stderr?.value })
  }
}

/**
 * posix_spawn says only which errno ended the child's set-up, not which step: opening an output
 * file, entering the directory or running the program. The step is found out again here, on this
 * rare path, so that the log names what to fix.
 */
function whyNotStarted(spec: ProgramSpec, errno: number): string {
  const opened: [string, string][] = [
    ...(spec.capture.stdout ? [] : [[spec.outputFile, 'output_file'] as [string, string]]),
    ...(spec.capture.stderr ? [] : [[spec.errorFile, 'error_file'] as [string, string]]),
  ]
  for (const [path, key] of opened) {
    const problem = outputFileProblem(path)
    if (problem !== undefined) return `cannot open ${key} ${path}: ${problem}`
  }
  try {
    if (!statSync(spec.directory).isDirectory()) return `cannot enter directory ${spec.directory}: not a directory`
    accessSync(spec.directory, fsConstants.X_OK)
  } catch (err) {
    return `cannot enter directory ${spec.directory}: ${(err as Error).message}`
  }
  if (errnoName(errno) === 'E2BIG') return tooLargeToStart(spec)
  // The same words as child_process's, so that the log reads alike whichever way it started.
  return startFailure(spec.program, errnoName(errno))
}

function errnoName(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[0] ?? `errno ${errno}`
}

function byteLength(chunks: readonly Buffer[]): number {
  return chunks.reduce((sum, chunk) => sum + chunk.length, 0)
}

function check(result: number, call: string): void {
  if (result !== 0) throw new Error(`${call} failed: ${describeErrno(result)}`)
}
