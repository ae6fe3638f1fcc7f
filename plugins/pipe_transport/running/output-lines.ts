// What Haraka keeps of a program's piped output while it copies it on to output_file or
// error_file: the first stderr line (status_from_stderr, reply_text = stderr, and the log line of
// every failure) or the last stdout line (reply_text = stdout), as chasquid and rt-mailgate's
// callers read them. Each is a bounded prefix of its line: a program that writes a gigabyte with
// no newline costs nothing more than the copy.

/** More than a reply may carry (200), so the cut is never inside what reaches the client. */
export const OUTPUT_LINE_BYTES = 512
const KEEP_BYTES = OUTPUT_LINE_BYTES

/** Bytes as one character each, so that any output is a string; the reply cuts it to ASCII. */
const text = (chunk: Buffer, start: number, end: number): string =>
  chunk.toString('latin1', start, Math.min(end, start + KEEP_BYTES))

export interface OutputLine {
  take(chunk: Buffer): void
  /** The line without its line ending; undefined when there is none. */
  readonly line: string | undefined
}

/** The first line, empty or not, once any output was seen. */
export class FirstLine implements OutputLine {
  private kept = ''
  private seen = false
  private complete = false

  get line(): string | undefined {
    return this.seen ? this.kept.replace(/\r$/, '') : undefined
  }

  take(chunk: Buffer): void {
    if (this.complete || chunk.length === 0) return
    this.seen = true
    const end = chunk.indexOf(0x0a)
    this.kept = (this.kept + text(chunk, 0, end < 0 ? chunk.length : end)).slice(0, KEEP_BYTES)
    if (end >= 0) this.complete = true
  }
}

/** The last line that holds more than white space. */
export class LastLine implements OutputLine {
  /** The line being written (no newline yet). */
  private current = ''
  private last: string | undefined

  get line(): string | undefined {
    return blank(this.current) ? this.last : stripCr(this.current)
  }

  take(chunk: Buffer): void {
    const lastNewline = chunk.lastIndexOf(0x0a)
    if (lastNewline < 0) {
      this.extend(chunk, 0, chunk.length)
      return
    }
    const firstNewline = chunk.indexOf(0x0a)
    this.extend(chunk, 0, firstNewline)
    if (!blank(this.current)) this.last = stripCr(this.current)
    // Of the lines this chunk completes after that, only the last non-blank one can count.
    for (let end = lastNewline; end > firstNewline;) {
      const start = chunk.lastIndexOf(0x0a, end - 1)
      const line = text(chunk, start + 1, end)
      if (!blank(line)) {
        this.last = stripCr(line)
        break
      }
      end = start
    }
    this.current = ''
    this.extend(chunk, lastNewline + 1, chunk.length)
  }

  private extend(chunk: Buffer, start: number, end: number): void {
    if (this.current.length < KEEP_BYTES) this.current = (this.current + text(chunk, start, end)).slice(0, KEEP_BYTES)
  }
}

function blank(line: string): boolean {
  return line.trim() === ''
}

function stripCr(line: string): string {
  return line.replace(/\r$/, '')
}
