// How a program's run ended, as the runner saw it: its own verdict (an exit status), or what ended
// it without one. The queue turns this into a reply (queue/run-reply.ts); check_program into an
// answer (rcpt/check-program.ts).

export type RunOutcome =
  | { readonly kind: 'exited'; readonly status: number }
  | { readonly kind: 'signaled'; readonly signal: string }
  | { readonly kind: 'timed-out'; readonly seconds: number }
  | { readonly kind: 'start-failed'; readonly error: string }
  /** Haraka stopped while it ran; it was ended, and is no success. */
  | { readonly kind: 'shutdown' }

export interface ProgramResult {
  readonly outcome: RunOutcome
  /** Bytes handed to the program's stdin (it may have read fewer if it exited early). */
  readonly bytesWritten: number
  /** What it said, where it was captured (output-lines.ts); undefined when it said nothing. */
  readonly said?: ProgramWords
}

export interface ProgramWords {
  /** The first line it wrote on stderr. */
  readonly stderrLine: string | undefined
  /** The last line it wrote on stdout, when reply_text = stdout asked for it. */
  readonly stdoutLine: string | undefined
}
