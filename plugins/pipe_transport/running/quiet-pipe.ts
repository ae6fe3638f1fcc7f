// A captured stderr that Haraka leaves unread while the program runs, for the common case: a
// program that says little, ends soon and has its stderr go to /dev/null. Its first line is needed
// only when the run fails (the log, reply_text), so no socket on Haraka's event loop is set up for
// every delivery (measured: about 0.1 ms of Haraka's CPU per message, a tenth of what a delivery
// costs it): once the program has exited, what the pipe holds is read at once, without waiting. A
// program that is still running after a moment is read as a stream from then on, so that one
// which writes more than the pipe holds never blocks on it.
import { closeSync, readSync } from 'node:fs'
import { Socket } from 'node:net'

/** How long a program may run before its stderr is read as a stream. */
export const QUIET_MS = 50

/** One read's most: what libuv reads from a pipe at a time anyway. */
const READ_BYTES = 64 * 1024

export class QuietPipe {
  private stream: { readonly socket: Socket; readonly closed: Promise<void> } | undefined
  private closed = false

  /** `fd`: the pipe's read end, non-blocking. */
  constructor(private readonly fd: number) {}

  /** The stream it became (wake()), if it did, and its end. */
  get woken(): { readonly socket: Socket; readonly closed: Promise<void> } | undefined {
    return this.stream
  }

  /**
   * Reads it as a stream from now on: the program runs longer than a moment. Nothing but its first
   * line is wanted, so every read goes into one buffer, handed to `take` and used again: a program
   * that writes gigabytes costs Haraka no memory for them (a Buffer per read would, until V8
   * collects them: about 120 MB more RSS for a gigabyte with Node 24).
   */
  wake(take: (chunk: Buffer) => void): Promise<void> {
    if (!this.stream) {
      const buffer = Buffer.allocUnsafe(READ_BYTES)
      const socket = new Socket({
        fd: this.fd,
        readable: true,
        writable: false,
        onread: {
          buffer,
          callback: (bytes: number, read: Uint8Array) => {
            take(Buffer.from(read.buffer, read.byteOffset, bytes))
            return true
          },
        },
      })
      // Listened for at once: it may close before the program's exit is seen.
      this.stream = { socket, closed: new Promise((done) => socket.once('close', () => done())) }
      socket.resume()
    }
    return this.stream.closed
  }

  /**
   * Once the program has exited: at most `max` bytes of what the pipe holds, without waiting for
   * more (a child it left behind may hold the pipe open). Closes the pipe; the rest is dropped.
   */
  readNow(max: number): Buffer {
    if (this.stream || this.closed) return Buffer.alloc(0)
    this.closed = true
    const buffer = Buffer.alloc(max)
    try {
      return buffer.subarray(0, readSync(this.fd, buffer, 0, max, null))
    } catch {
      // EAGAIN: nothing written, and a child it left behind still holds the pipe.
      return Buffer.alloc(0)
    } finally {
      closeSync(this.fd)
    }
  }
}
