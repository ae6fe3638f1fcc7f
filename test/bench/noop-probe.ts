// While the load runs, a separate idle SMTP connection asks Haraka for NOOP again and again and
// times each answer: what any other SMTP session waits while Haraka is busy starting programs
// (a fork() in Haraka stalls every session for its whole length).
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'

/** Pause between one answer and the next NOOP, so that the probe itself is no load. */
const PAUSE_MS = 5

export class NoopProbe {
  private readonly latenciesMs: number[] = []
  private running = true
  private readonly done: Promise<void>

  private constructor(
    private readonly socket: Socket,
    private readonly reader: LineReader,
  ) {
    this.done = this.loop()
  }

  /** Connects and says EHLO; NOOPs start at once. */
  static async start(port: number): Promise<NoopProbe> {
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    const reader = lineReader(socket)
    await reader.reply() // the greeting
    socket.write('EHLO probe.test\r\n')
    await reader.reply()
    return new NoopProbe(socket, reader)
  }

  /** Stops after the NOOP in flight; returns every answer's latency. */
  async stop(): Promise<readonly number[]> {
    this.running = false
    await this.done
    this.socket.end('QUIT\r\n')
    this.socket.destroy()
    return this.latenciesMs
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const sent = performance.now()
      this.socket.write('NOOP\r\n')
      const reply = await this.reader.reply()
      this.latenciesMs.push(performance.now() - sent)
      if (!reply.startsWith('250')) throw new Error(`NOOP answered ${reply}`)
      await sleep(PAUSE_MS)
    }
  }
}

interface LineReader {
  reply(): Promise<string>
}

/** Hands out the socket's complete replies (the last line of a multi-line one) in order. */
function lineReader(socket: Socket): LineReader {
  let buffered = ''
  const replies: string[] = []
  const waiting: ((reply: string) => void)[] = []
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    buffered += chunk
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      const line = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      if (line[3] === '-') continue // more lines of the same reply follow
      const next = waiting.shift()
      if (next) next(line)
      else replies.push(line)
    }
  })
  return {
    reply: () => {
      const ready = replies.shift()
      return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve))
    },
  }
}
