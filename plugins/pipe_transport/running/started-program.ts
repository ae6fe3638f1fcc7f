// A program that runs, whichever way it was started (posix-spawn.ts, child-process-spawn.ts): what
// run-program.ts watches until it ends.
import type { Readable, Writable } from 'node:stream'
import type { ExitStatus } from './reaper.js'

export interface StartedProgram {
  /** Also its process group's and session's id. */
  readonly pid: number
  /** Bytes of the input put into its pipe before it started (posix-spawn.ts). */
  readonly prefilled: number
  /** Where the rest of its input goes; undefined when the pipe took all of it and is closed. */
  readonly stdin: (Writable & { readonly bytesWritten: number }) | undefined
  /** Its stderr, when it is captured (captureStderrLine); else stderr went to errorFile. */
  readonly stderr: Readable | undefined
  readonly exited: Promise<ExitStatus>
  /** Our ends of its stdio are all closed. */
  readonly closed: Promise<void>
}
