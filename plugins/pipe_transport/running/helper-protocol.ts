// The wire format between Haraka and a spawn helper, over Unix-socket connections that Haraka
// keeps open and reuses, one delivery at a time on each.
//
// Haraka -> helper: frames, each a 4-byte big-endian length and that many bytes. A delivery's
// first frame is its ProgramSpec as JSON; the message follows in frames of any size; an empty
// frame ends it, and the next frame on the connection is the next delivery's spec. The empty
// frame is what tells a whole message from a connection that broke off: a program must never
// take a cut-off message for a complete one.
//
// Helper -> Haraka: JSON lines, `{"started":PID}` once the program runs, then `{"result":...}`.
import type { Socket } from 'node:net'
import { Writable } from 'node:stream'
import type { ProgramSpec, RunResult } from './run-program.js'

const HEADER_BYTES = 4
/** A spec is a few kB; anything far larger is not one of ours. */
const MAX_SPEC_BYTES = 1024 * 1024
/** Message bytes Haraka gathers into one frame before it waits for the socket. */
const FRAME_BATCH_BYTES = 64 * 1024

export type HelperReply = { readonly started: number } | { readonly result: RunResult }

/** The 4-byte length that starts a frame of `length` bytes. */
function frameHeader(length: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES)
  header.writeUInt32BE(length)
  return header
}

export function encodeFrame(payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload.length), payload])
}

/** The frame that ends a message; never written to, so one serves every delivery. */
const END_OF_MESSAGE = frameHeader(0)

export function encodeSpec(spec: ProgramSpec): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(spec)))
}

export function encodeReply(reply: HelperReply): string {
  return `${JSON.stringify(reply)}\n`
}

/**
 * Haraka's end: what the Feed writes one message into, after the delivery's spec. Haraka's
 * message stream writes one line at a time; this gathers them into frames of up to
 * FRAME_BATCH_BYTES, each sent with one writev(). So a typical message leaves in a single
 * writev(), spec and empty frame included, and wakes the helper once. Backpressure from the
 * socket reaches the message stream through this stream's callbacks. Ending it writes the empty
 * frame and leaves the connection open for the next delivery. Whoever owns the socket destroys
 * this stream when the socket closes, so that nothing waits on a 'drain' that will never come.
 */
export class FrameWriter extends Writable {
  /** Whole frames (the spec) and message bytes not yet framed, waiting to go out together. */
  private framed: Buffer[]
  private message: Buffer[] = []
  private messageBytes = 0

  constructor(
    private readonly socket: Socket,
    spec: ProgramSpec,
  ) {
    super({ highWaterMark: FRAME_BATCH_BYTES })
    this.framed = [encodeSpec(spec)]
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.message.push(chunk)
    this.messageBytes += chunk.length
    if (this.messageBytes < FRAME_BATCH_BYTES) return done()
    this.send(done)
  }

  override _final(done: (error?: Error | null) => void): void {
    this.send(done, END_OF_MESSAGE)
  }

  private send(done: (error?: Error | null) => void, last?: Buffer): void {
    // An empty frame means "end of message", so gathered bytes make a frame only if there are some.
    if (this.messageBytes > 0) this.framed.push(frameHeader(this.messageBytes), ...this.message)
    if (last) this.framed.push(last)
    this.socket.cork()
    for (const piece of this.framed) this.socket.write(piece)
    this.socket.uncork()
    this.framed = []
    this.message = []
    this.messageBytes = 0
    if (this.socket.writableNeedDrain) this.socket.once('drain', () => done())
    else done()
  }
}

export interface FrameEvents {
  /** A delivery starts: its ProgramSpec. */
  spec(spec: ProgramSpec): void
  /** Bytes of its message, in order (all that one push() held, in one piece). */
  data(bytes: Buffer): void
  /** Its empty frame: the message is complete. The next frame is the next delivery's spec. */
  end(): void
}

/**
 * The helper's end: splits what arrives on a connection into deliveries, one after another,
 * without waiting for whole frames. It throws on anything that is not this protocol.
 */
export class FrameParser {
  private header = Buffer.alloc(0)
  /** Bytes still to come of the current frame. */
  private remaining = 0
  /** The spec frame's parts while it is being read; undefined while a message is being read. */
  private specParts: Buffer[] | undefined = []

  constructor(private readonly events: FrameEvents) {}

  /**
   * True from a spec to its empty frame. A connection that ends then has cut a message off, and
   * the program must not read EOF and take it for a whole one.
   */
  get inMessage(): boolean {
    return this.specParts === undefined
  }

  push(chunk: Buffer): void {
    const message: Buffer[] = []
    // One write into the program's stdin per socket read, not one per frame.
    const flush = (): void => {
      if (message.length > 0) this.events.data(message.length === 1 ? (message[0] as Buffer) : Buffer.concat(message))
      message.length = 0
    }
    let offset = 0
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const needed = HEADER_BYTES - this.header.length
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + needed)])
        offset += needed
        if (this.header.length < HEADER_BYTES) break
        this.remaining = this.header.readUInt32BE(0)
        this.header = Buffer.alloc(0)
        if (this.remaining === 0) {
          if (this.specParts) throw new Error('an empty spec frame')
          flush()
          this.specParts = []
          this.events.end()
        } else if (this.specParts && this.remaining > MAX_SPEC_BYTES) {
          throw new Error(`a spec frame of ${this.remaining} bytes`)
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
          const spec = JSON.parse(Buffer.concat(this.specParts).toString()) as ProgramSpec
          this.specParts = undefined
          this.events.spec(spec)
        }
      }
    }
    flush()
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
