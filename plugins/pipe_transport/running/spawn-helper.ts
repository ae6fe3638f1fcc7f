// A spawn helper: a small Node process that Haraka starts (helper-pool.ts) to fork the delivery
// programs. fork() costs time that grows with the parent's memory and blocks the parent's event
// loop; paid here, in a process of a few tens of MB, it never stalls Haraka's SMTP sessions.
// Haraka sends deliveries over Unix-socket connections that it reuses (helper-protocol.ts), and
// each program runs through run-program.ts exactly as it would inside Haraka.
//
// Run as `node spawn-helper.js INDEX SOCKET_PATH`, with an IPC channel to Haraka.
import { rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import { FrameParser, encodeReply } from './helper-protocol.js'
import { terminateGroup } from './process-groups.js'
import { runProgram, type ProgramSpec } from './run-program.js'

/**
 * Message bytes arrive in socket reads of up to 64 kB, each a new buffer that is garbage once
 * written to the program. V8 collects such buffers only once they add up to tens of MB (about
 * 40 MB measured), so a single large message could grow the helper by that much, and a bigger
 * helper makes every later fork() dearer. A minor collection after every MB passed on keeps it
 * small (a first 20 MB message grew a helper by 8 MB instead of 18); a typical message never
 * triggers one. The helper runs with --expose-gc for this.
 */
const COLLECT_EVERY_BYTES = 1024 * 1024
let bytesSinceCollection = 0

function countPassedOn(bytes: number): void {
  bytesSinceCollection += bytes
  if (bytesSinceCollection < COLLECT_EVERY_BYTES) return
  bytesSinceCollection = 0
  globalThis.gc?.({ type: 'minor' })
}

/**
 * One connection from Haraka: deliveries one after another (helper-protocol.ts). Each program's
 * stdin is fed from the connection with backpressure: while the program does not read, the
 * connection is not read either.
 */
function serve(socket: Socket): void {
  socket.on('error', () => undefined) // Haraka went away; what it missed, it answers 4xx itself
  let delivery: Delivery | undefined
  const frames = new FrameParser({
    spec: (spec) => {
      // Haraka sends the next spec only after this delivery's result.
      if (delivery) throw new Error('a spec while a delivery is in flight')
      const started: Delivery = new Delivery(socket, spec, () => {
        if (delivery === started) delivery = undefined
      })
      delivery = started
    },
    data: (bytes) => delivery?.input(bytes),
    end: () => delivery?.inputEnded(),
  })
  socket.on('data', (chunk: Buffer) => {
    countPassedOn(chunk.length)
    try {
      frames.push(chunk)
    } catch {
      socket.destroy() // not our protocol: treated as a connection that broke off
    }
  })
  socket.on('close', () => {
    if (frames.inMessage) delivery?.cutOff()
  })
}

/** One program run for Haraka, from its spec until its result is sent and its message read. */
class Delivery {
  private readonly stdin = new PassThrough()
  private pid: number | undefined
  private cut = false
  private resultSent = false
  private messageRead = false

  constructor(
    private readonly socket: Socket,
    spec: ProgramSpec,
    private readonly done: () => void,
  ) {
    const onStarted = (started: number): void => {
      this.pid = started
      // A message cut off before the program ran: it must never read EOF.
      if (this.cut) terminateGroup(started)
      socket.write(encodeReply({ started }))
    }
    runProgram(spec, (programStdin) => this.stdin.pipe(programStdin), onStarted).then((result) => {
      socket.write(encodeReply({ result }))
      this.resultSent = true
      // What the program did not read is read here and dropped, up to the empty frame.
      this.stdin.destroy()
      socket.resume()
      if (this.messageRead) done()
    })
  }

  input(bytes: Buffer): void {
    if (this.resultSent) return
    if (!this.stdin.write(bytes)) {
      this.socket.pause()
      this.stdin.once('drain', () => this.socket.resume())
    }
  }

  inputEnded(): void {
    this.messageRead = true
    if (this.resultSent) this.done()
    else this.stdin.end()
  }

  /** The connection broke off mid-message: the program is ended while its stdin is still open. */
  cutOff(): void {
    this.cut = true
    this.stdin.destroy()
    if (this.pid !== undefined) terminateGroup(this.pid)
  }
}

function main(): void {
  const [index, socketPath] = process.argv.slice(2)
  if (index === undefined || socketPath === undefined || !process.send) {
    process.stderr.write('spawn-helper.js is started by pipe_transport inside Haraka, not by hand\n')
    process.exit(2)
  }
  // Haraka is gone (or stopping): exit at once. process-groups.ts SIGKILLs every program group
  // still running on 'exit'; nobody is left to answer for them.
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))

  rmSync(socketPath, { force: true })
  // allowHalfOpen: Haraka half-closes after the message, and the result still has to go back.
  const server = createServer({ allowHalfOpen: true }, serve)
  // The title (what ps shows) is set once Haraka has taken this helper into its pool, so a helper
  // that ps names is one that Haraka sends deliveries to.
  process.on('message', (message) => {
    if (message === 'in-pool') process.title = `haraka: pipe_transport spawn-helper ${index}`
  })
  server.listen(socketPath, () => process.send?.('ready'))
}

main()
