// Runs one delivery program: no shell, a given environment, its own process group, stdout and
// stderr appended straight to files (so its output never passes through Haraka's memory), and a
// deadline. Resolves exactly once with how the run ended; it never rejects.
import { spawn, type ChildProcess } from 'node:child_process'
import { open, type FileHandle } from 'node:fs/promises'
import type { Writable } from 'node:stream'
import type { Outcome } from './exit-reply.js'
import { terminateGroup, trackRunning, untrackRunning } from './process-groups.js'

export interface ProgramSpec {
  readonly program: string
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string>>
  readonly directory: string
  readonly uid?: number | undefined
  readonly gid?: number | undefined
  readonly outputFile: string
  readonly errorFile: string
  readonly timeoutSeconds: number
}

export interface RunResult {
  readonly outcome: Outcome
  /** Bytes handed to the program's stdin (it may have read fewer if it exited early). */
  readonly bytesWritten: number
}

/** Writes the message into the program's stdin and ends it. */
export type Feed = (stdin: Writable) => void

export async function runProgram(spec: ProgramSpec, feed: Feed): Promise<RunResult> {
  let output: FileHandle | undefined
  let error: FileHandle | undefined
  try {
    output = await openForAppend(spec.outputFile, 'output_file')
    error = await openForAppend(spec.errorFile, 'error_file')
    return await spawnAndWatch(spec, feed, output.fd, error.fd)
  } catch (err) {
    return { outcome: { kind: 'start-failed', cause: messageOf(err) }, bytesWritten: 0 }
  } finally {
    // The child holds its own copies of the descriptors from the moment spawn() returns.
    await output?.close().catch(() => undefined)
    await error?.close().catch(() => undefined)
  }
}

async function openForAppend(path: string, key: string): Promise<FileHandle> {
  try {
    return await open(path, 'a', 0o640)
  } catch (err) {
    throw new Error(`cannot open ${key} ${path}: ${messageOf(err)}`)
  }
}

function spawnAndWatch(spec: ProgramSpec, feed: Feed, stdoutFd: number, stderrFd: number): Promise<RunResult> {
  // spawn() throws synchronously for some bad input (a NUL byte in an argument, an invalid uid);
  // the caller turns that into a start failure.
  const child = spawn(spec.program, spec.argv, {
    stdio: ['pipe', stdoutFd, stderrFd],
    env: spec.env,
    cwd: spec.directory,
    detached: true,
    ...(spec.uid === undefined ? {} : { uid: spec.uid }),
    ...(spec.gid === undefined ? {} : { gid: spec.gid }),
  })
  return new Promise((resolve) => watch(child, spec, feed, resolve))
}

function watch(child: ChildProcess, spec: ProgramSpec, feed: Feed, resolve: (result: RunResult) => void): void {
  const stdin = child.stdin
  const pid = child.pid
  let ending: Outcome | undefined // set when the plugin, not the program, decided how this ends
  let timer: NodeJS.Timeout | undefined

  const finish = (outcome: Outcome): void => {
    clearTimeout(timer)
    if (pid !== undefined) untrackRunning(pid)
    resolve({ outcome, bytesWritten: stdin && 'bytesWritten' in stdin ? Number(stdin.bytesWritten) : 0 })
  }

  // With no pid the program never started (ENOENT, EACCES, ENOEXEC ...): 'error' follows, and
  // nothing must be written to a stdin that has no reader.
  child.once('error', (err) => {
    if (pid === undefined) finish({ kind: 'start-failed', cause: `cannot start ${spec.program}: ${err.message}` })
  })
  if (pid === undefined || !stdin) return

  // A program may exit without reading all of its input; its exit status decides, so the EPIPE
  // (or ECONNRESET, or a write after destroy) that the rest of the message meets is not an error.
  stdin.on('error', () => undefined)

  const endBy = (outcome: Outcome): void => {
    if (ending) return
    ending = outcome
    terminateGroup(pid)
  }
  timer = setTimeout(() => endBy({ kind: 'timed-out', seconds: spec.timeoutSeconds }), spec.timeoutSeconds * 1000)
  trackRunning(pid, () => endBy({ kind: 'shutdown' }))

  // 'close' rather than 'exit': it comes after the exit status and after our end of stdin is
  // closed, so the byte count is final.
  child.once('close', (status, signal) => {
    if (ending) finish(ending)
    else if (status !== null) finish({ kind: 'exited', status })
    else finish({ kind: 'signaled', signal: signal ?? 'unknown' })
  })

  feed(stdin)
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
