// A client that hangs up right after the final dot, before the reply. nodemailer always waits for
// the reply, so this one speaks SMTP on a raw socket.
import { connect } from 'node:net'

const REPLY_TIMEOUT_MS = 30_000

/** Sends one message (to one recipient or several) and drops the connection once the final dot is written. */
export function sendAndDrop(
  port: number,
  from: string,
  to: string | readonly string[],
  message: string,
): Promise<void> {
  const recipients = typeof to === 'string' ? [to] : to
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(REPLY_TIMEOUT_MS, () => socket.destroy(new Error('no reply from Haraka')))
    socket.once('error', fail)
    // Each step is sent once the previous reply (a final line: code and a space) has come.
    const rcpts = recipients.map((rcpt) => `RCPT TO:<${rcpt}>\r\n`)
    const steps = [`EHLO drop.test\r\n`, `MAIL FROM:<${from}>\r\n`, ...rcpts, 'DATA\r\n', `${message}.\r\n`]
    const expected = ['220', '250', ...rcpts.map(() => '250'), '250', '354']
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      const final = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(received)
      if (!final) return
      received = ''
      const code = final[1]
      const step = steps.shift()
      if (code !== expected.shift() || step === undefined) {
        socket.destroy()
        fail(new Error(`unexpected reply ${final[0].trim()}`))
      } else if (steps.length > 0) {
        socket.write(step)
      } else {
        // The message and its dot are with the kernel: hang up without waiting for the reply.
        socket.write(step, () => {
          socket.destroy()
          done()
        })
      }
    })
  })
}
