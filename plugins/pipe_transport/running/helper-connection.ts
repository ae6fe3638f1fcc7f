// Haraka's end of one Unix-socket connection to a spawn helper. A connection carries one
// delivery at a time and is kept for the next one, so that a delivery costs no connect(),
// accept() and close() on either side (helper-protocol.ts has the wire format).
import { createConnection, type Socket } from 'node:net'
import { FrameWriter, ReplyReader, type HelperReply } from './helper-protocol.js'
import type { Feed, ProgramSpec } from './run-program.js'

/** What the delivery on a connection hears from it. */
export interface DeliveryListener {
  reply(reply: HelperReply): void
  /** The connection closed while this delivery had it: the helper died, or hung up on us. */
  closed(cause: string): void
}

export class HelperConnection {
  private readonly socket: Socket
  private connected = false
  private delivery: DeliveryListener | undefined
  private writer: FrameWriter | undefined
  private failure = 'closed the connection without a result'

  /** Opens a new connection; `onClosed` hears when it is gone, whoever had it. */
  constructor(socketPath: string, onClosed: (connection: HelperConnection) => void) {
    this.socket = createConnection(socketPath)
    const replies = new ReplyReader((reply) => {
      if (this.delivery) this.delivery.reply(reply)
      else this.fail('sent a reply with no delivery in flight')
    })
    // These listeners stay for the connection's life: an 'error' between deliveries must not
    // be an unhandled one, and a helper that dies must take its idle connections with it.
    this.socket.on('connect', () => (this.connected = true))
    this.socket.on('error', (err) => (this.failure = `connection failed: ${err.message}`))
    this.socket.on('data', (chunk: Buffer) => {
      try {
        replies.push(chunk)
      } catch (err) {
        this.fail(`sent an unreadable reply: ${String(err)}`)
      }
    })
    this.socket.on('close', () => {
      onClosed(this)
      this.writer?.destroy()
      const delivery = this.delivery
      this.delivery = undefined
      delivery?.closed(this.failure)
    })
  }

  /** True once the helper took the connection; a delivery that never had that is still unread. */
  get wasConnected(): boolean {
    return this.connected
  }

  /** Starts a delivery: the spec goes out, then the message as the feed writes it. */
  send(spec: ProgramSpec, feed: Feed, listener: DeliveryListener): void {
    this.delivery = listener
    const start = (): void => {
      this.writer = new FrameWriter(this.socket, spec)
      feed(this.writer)
    }
    if (this.connected) start()
    else this.socket.once('connect', start)
  }

  /**
   * The delivery has its result. True if the connection can take the next one: the whole message,
   * empty frame included, went out, so the helper reads to that frame and waits for a spec. False
   * if the program exited before all of it went; the caller then closes the connection, which
   * stops the feed.
   */
  finish(): boolean {
    this.delivery = undefined
    if (!this.writer?.writableFinished || this.socket.destroyed) return false
    this.writer = undefined
    return true
  }

  close(): void {
    this.socket.destroy()
  }

  private fail(cause: string): void {
    this.failure = cause
    this.socket.destroy()
  }
}
