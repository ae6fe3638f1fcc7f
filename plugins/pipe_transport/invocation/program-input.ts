// What a program reads on stdin, as invocation/ hands it to the runner: bytes in memory (a message
// small enough, or nothing; a few chunks, which go into its pipe in one writev before it starts),
// or a feed that writes a larger message into it and ends it.
import type { Writable } from 'node:stream'

export type ProgramInput = { readonly bytes: readonly Buffer[] } | { readonly feed: (stdin: Writable) => void }

/** No input: stdin reads EOF at once. */
export const NO_INPUT: ProgramInput = { bytes: [] }

export type LineEnding = '\n' | '\r\n'

/** Writes the whole message into `dest`, and ends it. */
export type PipeInto = (dest: Writable) => void

/** Where a run reads its message from (queue/message-source.ts makes them). */
export interface MessageSource {
  /** The whole message with these line endings: its bytes when it is in memory, else a stream. */
  take(lineEnding: LineEnding): Buffer | PipeInto
}
