// A pass-through stream that remembers the first line that goes through it (status_from_stderr),
// keeping at most a bounded prefix: a program that writes a gigabyte with no newline costs nothing.
import { Transform, type TransformCallback } from 'node:stream'

/** More than a reply may carry (200), so the cut is never inside what reaches the client. */
const KEEP_BYTES = 512

export class FirstLine extends Transform {
  private kept = ''
  private complete = false

  /** The first line without its line ending, once any stderr was seen; undefined if none. */
  get line(): string | undefined {
    return this.kept === '' && !this.complete ? undefined : this.kept.replace(/\r$/, '')
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!this.complete) {
      const text = chunk.toString('latin1')
      const end = text.indexOf('\n')
      this.kept = (this.kept + (end < 0 ? text : text.slice(0, end))).slice(0, KEEP_BYTES)
      if (end >= 0) this.complete = true
    }
    done(null, chunk)
  }
}
