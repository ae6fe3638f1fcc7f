// How a program's run ended, as the runner saw it: its own verdict (an exit status), or what ended
// it without one. The queue turns this into a reply (queue/run-reply.ts); check_program into an
// answer (rcpt/check-program.ts).

export type RunOutcome =
  /** `stderrLine`: the program's first stderr line, when `status_from_stderr` asked for it. */
  | { readonly kind: 'exited'; readonly status: number; readonly stderrLine?: string | undefined }
  | { readonly kind: 'signaled'; readonly signal: string }
  | { readonly kind: 'timed-out'; readonly seconds: number }
  | { readonly kind: 'start-failed'; readonly error: string }
  /** Haraka stopped while it ran; it was ended, and is no success. */
  | { readonly kind: 'shutdown' }

export interface ProgramResult {
  readonly outcome: RunOutcome
  /** Bytes handed to the program's stdin (it may have read fewer if it exited early). */
  readonly bytesWritten: number
}
