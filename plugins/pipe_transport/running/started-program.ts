// A program that runs, whichever way it was started (posix-spawn.ts, child-process-spawn.ts): what
// run-program.ts watches until it ends.
import type { Readable, Writable } from 'node:stream'
import type { QuietPipe } from './quiet-pipe.js'
import type { ExitStatus } from './reaper.js'

export interface StartedProgram {
  /** Also its process group's and session's id. */
  readonly pid: number
  /** Bytes of the input put into its pipe before it started (posix-spawn.ts). */
  readonly prefilled: number
  /** Where the rest of its input goes; undefined when the pipe took all of it and is closed. */
  readonly stdin: (Writable & { readonly bytesWritten: number }) | undefined
  /** Its stdout and stderr, where they are captured (ProgramSpec.capture); else they went to their files. */
  readonly stdout: Readable | undefined
  /** A QuietPipe where nothing needs the bytes but their first line (quiet-pipe.ts). */
  readonly stderr: Readable | QuietPipe | undefined
  readonly exited: Promise<ExitStatus>
  /** Our ends of its stdio are all closed (a QuietPipe's aside). */
  readonly closed: Promise<void>
}
