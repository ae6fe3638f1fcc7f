// Runs one delivery program: no shell, a given environment, its own session and process group,
// stdout and stderr appended to files, and a deadline. Resolves exactly once with how the run
// ended; it never rejects. Output that is captured (ProgramSpec.capture: a delivery's stderr, and
// its stdout for reply_text = stdout) passes through Haraka, which keeps a bounded line of it and
// copies it on; the rest goes straight to its file and never through Haraka's memory.
//
// Programs start with posix_spawn (posix-spawn.ts) where glibc and koffi allow it, and through
// child_process (fork, then exec) where they do not, and for instances with `user`/`group`:
// posix_spawn cannot change identity. Both give the same guarantees; only the cost differs.
import type { FileHandle } from 'node:fs/promises'
import type { Readable, Writable } from 'node:stream'
import type { ProgramInput } from '../invocation/program-input.js'
import type { ProgramSpec } from '../invocation/program-spec.js'
import { messageOf } from '../util/error-message.js'
import { within } from '../util/within.js'
import { spawnWithChildProcess } from './child-process-spawn.js'
import { FirstLine, LastLine, OUTPUT_LINE_BYTES, type OutputLine } from './output-lines.js'
import { gatherWrites } from './gather-writes.js'
import { libc, libcMissing } from './libc.js'
import { DEV_NULL, openOutputFile } from './output-files.js'
import { PosixSpawner } from './posix-spawn.js'
import { QUIET_MS, QuietPipe } from './quiet-pipe.js'
import { endLeftovers, terminateGroup, trackRunning, untrackRunning } from './process-groups.js'
import type { ProgramResult, RunOutcome } from './run-outcome.js'
import type { StartedProgram } from './started-program.js'

/**
 * After the program exits, how long its stdio may stay open. A child it left behind can hold
 * them open; the program's verdict must not wait for that child.
 */
export const STDIO_LINGER_MS = 1000

/**
 * `PIPE_TRANSPORT_SPAWNER=child_process` makes every program start through child_process, as on
 * a system without glibc or koffi. For tests of that path; an operator has no reason to set it.
 */
const FORCE_CHILD_PROCESS = process.env['PIPE_TRANSPORT_SPAWNER'] === 'child_process'

/**
 * pipe-transport-try sets `PIPE_TRANSPORT_ECHO_STDERR=1` in its own process: every program's
 * stderr is then shown to the operator trying the config, as well as going to error_file. Read at
 * each run, not at load: the try command may have loaded this module before it sets it.
 */
const echoStderr = (): boolean => process.env['PIPE_TRANSPORT_ECHO_STDERR'] === '1'
const posixSpawner = libc && !FORCE_CHILD_PROCESS ? new PosixSpawner(libc) : undefined

/** How programs start in this process, for the one log line at start. */
export function describeSpawner(): { readonly level: 'info' | 'warn'; readonly message: string } {
  if (posixSpawner) {
    return {
      level: 'info',
      message: 'programs start with posix_spawn (glibc through koffi); instances with user/group through child_process',
    }
  }
  if (FORCE_CHILD_PROCESS) {
    return {
      level: 'warn',
      message:
        'programs start through child_process (fork), which blocks Haraka longer per delivery: PIPE_TRANSPORT_SPAWNER=child_process is set',
    }
  }
  return {
    level: 'warn',
    message:
      'programs start through child_process (fork), which blocks Haraka longer per delivery, and descriptors that Haraka ' +
      `holds without close-on-exec (the local journal's) reach them: ${libcMissing}`,
  }
}

/** Runs the program to its end. Resolves exactly once with how the run ended; it never rejects. */
export async function runProgram(spec: ProgramSpec, input: ProgramInput): Promise<ProgramResult> {
  let output: FileHandle | undefined
  let error: FileHandle | undefined
  try {
    let started
    if (posixSpawner && spec.uid === undefined && spec.gid === undefined) {
      // The child opens its own output files; captured output is copied into them here.
      if (spec.capture.stdout) output = await openOutputFile(spec.outputFile, 'output_file')
      if (spec.capture.stderr) error = await openOutputFile(spec.errorFile, 'error_file')
      // Only a failure's first line is wanted when stderr goes nowhere else.
      const quiet = spec.errorFile === DEV_NULL && !echoStderr()
      started = await posixSpawner.start(spec, 'bytes' in input ? input.bytes : undefined, quiet)
    } else {
      output = await openOutputFile(spec.outputFile, 'output_file')
      error = await openOutputFile(spec.errorFile, 'error_file')
      started = await spawnWithChildProcess(spec, output, error, error === undefined && !echoStderr())
    }
    if (!started.ok) return { outcome: { kind: 'start-failed', error: started.error }, bytesWritten: 0 }
    return await watch(started.value, spec, input, { output, error })
  } catch (err) {
    return { outcome: { kind: 'start-failed', error: messageOf(err) }, bytesWritten: 0 }
  } finally {
    // The child holds its own copies of the descriptors from the moment it was started. A
    // captured output's copy has closed its handle already; closing it again is harmless.
    await output?.close().catch(() => undefined)
    await error?.close().catch(() => undefined)
  }
}

async function watch(
  started: StartedProgram,
  spec: ProgramSpec,
  input: ProgramInput,
  files: { readonly output: FileHandle | undefined; readonly error: FileHandle | undefined },
): Promise<ProgramResult> {
  const { stdin, stdout, stderr, pid } = started
  const bytesWritten = (): number => started.prefilled + (stdin?.bytesWritten ?? 0)

  // A program may exit without reading all of its input; its exit status decides, so the EPIPE
  // (or ECONNRESET, or a write after destroy) that the rest of the message meets is not an error.
  stdin?.on('error', () => undefined)
  const stderrLine = new FirstLine()
  const stdoutLine = new LastLine()
  const quiet = stderr instanceof QuietPipe ? stderr : undefined
  const streamed = stderr instanceof QuietPipe ? undefined : stderr
  const copies: Promise<void>[] = []
  if (stdout) copies.push(copyOutput(stdout, files.output, stdoutLine))
  if (streamed) copies.push(copyOutput(streamed, files.error, stderrLine, echoStderr()))
  const wake = quiet && setTimeout(() => copies.push(quiet.wake((chunk) => stderrLine.take(chunk))), QUIET_MS)

  let ending: RunOutcome | undefined // set when the plugin, not the program, decided how this ends
  const endBy = (outcome: RunOutcome): void => {
    if (ending) return
    ending = outcome
    terminateGroup(pid)
  }
  const timer = setTimeout(() => endBy({ kind: 'timed-out', seconds: spec.timeoutSeconds }), spec.timeoutSeconds * 1000)
  trackRunning(pid, () => endBy({ kind: 'shutdown' }))

  if (stdin) writeInput(stdin, input, started.prefilled)
  const { status, signal } = await started.exited
  clearTimeout(timer)
  clearTimeout(wake)
  if (!ending && !spec.keepLeftovers) endLeftovers(pid)
  untrackRunning(pid)
  if (quiet) stderrLine.take(quiet.readNow(OUTPUT_LINE_BYTES))

  // Wait for the stdio to close only briefly after the exit: the byte count and the copied
  // output are complete then, unless a child the program left behind holds them.
  const woken = quiet?.woken
  const closed = woken ? Promise.all([started.closed, woken.closed]) : started.closed
  if (
    !(await within(
      closed.then(() => true),
      STDIO_LINGER_MS,
      false,
    ))
  ) {
    stdin?.destroy()
    stdout?.destroy()
    ;(woken?.socket ?? streamed)?.destroy()
  }
  await Promise.all(copies)

  const said = { stderrLine: stderrLine.line, stdoutLine: stdoutLine.line }
  const outcome: RunOutcome =
    ending ?? (status !== null ? { kind: 'exited', status } : { kind: 'signaled', signal: signal ?? 'unknown' })
  return { outcome, bytesWritten: bytesWritten(), said }
}

/** Writes what the pipe did not take before the program started, and ends its stdin. */
function writeInput(stdin: Writable, input: ProgramInput, prefilled: number): void {
  if ('bytes' in input) {
    stdin.cork()
    for (const chunk of afterBytes(input.bytes, prefilled)) stdin.write(chunk)
    stdin.end()
    return
  }
  // Haraka's message stream hands over a message line by line, many lines in one tick.
  gatherWrites(stdin)
  input.feed(stdin)
}

/** The chunks from byte `offset` on. */
function afterBytes(chunks: readonly Buffer[], offset: number): Buffer[] {
  let skip = offset
  return chunks.flatMap((chunk) => {
    const from = Math.min(skip, chunk.length)
    skip -= from
    return from === chunk.length ? [] : [chunk.subarray(from)]
  })
}

/**
 * Copies piped output into its file (with backpressure), or drops it where there is none
 * (/dev/null), while `line` keeps what the reply and the log may need. The copy owns the file
 * handle from here on and closes it; resolves once it has.
 */
function copyOutput(output: Readable, file: FileHandle | undefined, line: OutputLine, echo = false): Promise<void> {
  output.on('data', (chunk: Buffer) => {
    line.take(chunk)
    if (echo) process.stderr.write(chunk)
  })
  if (!file) return new Promise((done) => output.once('close', () => done()))
  const sink = file.createWriteStream()
  const copied = new Promise<void>((done) => sink.once('close', () => done()))
  sink.once('error', () => undefined) // a full disk must not take Haraka down; 'close' follows
  output.pipe(sink)
  // Destroyed after the linger rather than ended: nothing more will come, so stop the copy.
  output.once('close', () => {
    if (!output.readableEnded) sink.destroy()
  })
  return copied
}
