// An SMTP server on a free loopback port that keeps what it is sent: where a test points Haraka's
// outbound (a get_mx plugin, mxPlugin()) to catch the mail Haraka itself sends, such as a DSN.
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { SMTPServer } from 'smtp-server'

/** A message the sink received: its envelope (`''` for the null sender) and its bytes. */
export interface SunkMessage {
  readonly from: string
  readonly to: readonly string[]
  readonly data: Buffer
}

export class SmtpSink {
  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
    /** Every message so far, in the order they came. */
    readonly received: readonly SunkMessage[],
  ) {}

  static async start(): Promise<SmtpSink> {
    const received: SunkMessage[] = []
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onData(stream, session, done) {
        const chunks: Buffer[] = []
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('end', () => {
          const { mailFrom, rcptTo } = session.envelope
          received.push({
            from: mailFrom === false ? '' : mailFrom.address,
            to: rcptTo.map((rcpt) => rcpt.address),
            data: Buffer.concat(chunks),
          })
          done()
        })
      },
    })
    server.listen(0, '127.0.0.1')
    await once(server.server, 'listening')
    const address = server.server.address()
    return new SmtpSink(server, typeof address === 'object' && address ? address.port : 0, received)
  }

  /** Waits until `count` messages have arrived in all; returns them. */
  async waitFor(count: number, timeoutMs = 20_000): Promise<readonly SunkMessage[]> {
    const deadline = Date.now() + timeoutMs
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`the sink got ${this.received.length} message(s), not ${count}`)
      await sleep(50)
    }
    return this.received
  }

  close(): Promise<void> {
    return new Promise((done) => this.server.close(() => done()))
  }
}

/**
 * A Haraka plugin (its source) whose get_mx hook sends all outbound mail, bounces and DSNs
 * included, to 127.0.0.1:PORT. An MX from a plugin is not subject to outbound's local_mx_ok.
 */
export function mxPlugin(port: number): string {
  return `exports.hook_get_mx = function (next, hmail, domain) {
  next(OK, { exchange: '127.0.0.1', port: ${port}, priority: 0 })
}
`
}
