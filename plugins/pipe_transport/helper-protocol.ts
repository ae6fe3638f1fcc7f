// The wire format between Haraka and a spawn helper: one Unix-socket connection per delivery.
//
// Haraka -> helper: frames, each a 4-byte big-endian length and that many bytes. The first frame
// is the ProgramSpec as JSON; the message follows in frames of any size; an empty frame ends it.
// The empty frame is what tells a whole message from a connection that broke off: both end in
// EOF on the socket, and a program must never take a cut-off message for a complete one.
//
// Helper -> Haraka: JSON lines, `{"started":PID}` once the program runs, then `{"result":...}`.
import type { Socket } from 'node:net'
import { Transform, Writable, type TransformCallback } from 'node:stream'
import type { ProgramSpec, RunResult } from './run-program.js'

const HEADER_BYTES = 4
/** A spec is a few kB; anything far larger is not one of ours. */
const MAX_SPEC_BYTES = 1024 * 1024
/** Message bytes Haraka gathers into one frame before it waits for the socket. */
const FRAME_BATCH_BYTES = 64 * 1024

export type HelperReply = { readonly started: number } | { readonly result: RunResult }

export function encodeFrame(payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES)
  header.writeUInt32BE(payload.length)
  return Buffer.concat([header, payload])
}

export function encodeSpec(spec: ProgramSpec): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(spec)))
}

export function encodeReply(reply: HelperReply): string {
  return `${JSON.stringify(reply)}\n`
}

/**
 * Haraka's end: what the Feed writes the message into. Haraka's message stream writes one line
 * at a time; the writes of one tick become one frame, sent with one writev(), so the helper sees
 * a few large frames rather than a frame per line. Backpressure from the socket reaches the
 * message stream through this stream's callbacks.
 */
export class FrameWriter extends Writable {
  constructor(private readonly socket: Socket) {
    super({ highWaterMark: FRAME_BATCH_BYTES })
    // A socket that closed takes this stream with it, so that nothing waits on a 'drain' that
    // will never come (and Haraka's message stream, listening for 'close', lets go).
    socket.once('close', () => this.destroy())
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.send([chunk], done)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (error?: Error | null) => void): void {
    this.send(
      chunks.map((each) => each.chunk),
      done,
    )
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end(encodeFrame(Buffer.alloc(0)))
    done()
  }

  private send(payloads: readonly Buffer[], done: (error?: Error | null) => void): void {
    const length = payloads.reduce((total, payload) => total + payload.length, 0)
    // An empty frame means "end of message"; an empty write means nothing.
    if (length === 0) return done()
    const header = Buffer.alloc(HEADER_BYTES)
    header.writeUInt32BE(length)
    this.socket.cork()
    this.socket.write(header)
    for (const payload of payloads) this.socket.write(payload)
    // Holding the callback to the next tick lets the rest of this tick's writes gather in
    // this stream's buffer; they come back as one _writev().
    process.nextTick(() => {
      this.socket.uncork()
      if (this.socket.writableNeedDrain) this.socket.once('drain', () => done())
      else done()
    })
  }
}

/**
 * The helper's end: reads the spec frame (emitted as 'spec'), then passes the message bytes on,
 * without waiting for whole frames. It fails, instead of ending, when the connection ends before
 * the empty frame: the program's stdin must then not see EOF.
 */
export class FrameReader extends Transform {
  private header = Buffer.alloc(0)
  /** Bytes still to come of the current frame. */
  private remaining = 0
  /** The spec frame's parts while it is being read; undefined once it is read. */
  private specParts: Buffer[] | undefined = []
  private complete = false

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const message: Buffer[] = []
    let offset = 0
    while (offset < chunk.length) {
      if (this.complete) return done(new Error('bytes after the end of the message'))
      if (this.remaining === 0) {
        const needed = HEADER_BYTES - this.header.length
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + needed)])
        offset += needed
        if (this.header.length < HEADER_BYTES) break
        this.remaining = this.header.readUInt32BE(0)
        this.header = Buffer.alloc(0)
        if (this.remaining === 0) {
          if (this.specParts) return done(new Error('an empty spec frame'))
          this.complete = true
        } else if (this.specParts && this.remaining > MAX_SPEC_BYTES) {
          return done(new Error(`a spec frame of ${this.remaining} bytes`))
        }
        continue
      }
      const piece = chunk.subarray(offset, offset + this.remaining)
      offset += piece.length
      this.remaining -= piece.length
      if (!this.specParts) {
        message.push(piece)
      } else {
        this.specParts.push(piece)
        if (this.remaining === 0) {
          const spec = Buffer.concat(this.specParts).toString()
          this.specParts = undefined
          try {
            this.emit('spec', JSON.parse(spec) as ProgramSpec)
          } catch (err) {
            return done(err instanceof Error ? err : new Error(String(err)))
          }
        }
      }
    }
    // One write into the program's stdin per socket read, not one per frame.
    if (message.length > 0) this.push(message.length === 1 ? message[0] : Buffer.concat(message))
    done()
  }

  override _flush(done: TransformCallback): void {
    done(this.complete ? null : new Error('the connection ended before the message did'))
  }
}

/** Splits the helper's replies into lines as they arrive. */
export class ReplyReader {
  private pending = ''

  constructor(private readonly onReply: (reply: HelperReply) => void) {}

  push(chunk: Buffer): void {
    const lines = (this.pending + chunk.toString()).split('\n')
    this.pending = lines.pop() ?? ''
    for (const line of lines) if (line !== '') this.onReply(JSON.parse(line) as HelperReply)
  }
}
