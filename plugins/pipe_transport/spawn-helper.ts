// A spawn helper: a small Node process that Haraka starts (helper-pool.ts) to fork the delivery
// programs. fork() costs time that grows with the parent's memory and blocks the parent's event
// loop; paid here, in a process of a few tens of MB, it never stalls Haraka's SMTP sessions.
// Each connection on the helper's Unix socket is one delivery (helper-protocol.ts), and the
// program runs through run-program.ts exactly as it would inside Haraka.
//
// Run as `node spawn-helper.js INDEX SOCKET_PATH`, with an IPC channel to Haraka.
import { rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { FrameReader, encodeReply } from './helper-protocol.js'
import { terminateGroup } from './process-groups.js'
import { runProgram, type ProgramSpec } from './run-program.js'

/** How long a finished delivery's connection may stay open, waiting for Haraka to close it. */
const CLOSE_PATIENCE_MS = 10_000

function serve(socket: Socket): void {
  socket.on('error', () => undefined) // Haraka went away; what it missed, it answers 4xx itself
  const frames = new FrameReader()
  socket.pipe(frames)
  let pid: number | undefined
  frames.once('error', () => {
    // The message was cut off: Haraka gave up on this delivery, or is gone. The program must
    // not read EOF and deliver half a message, so it is ended while its stdin is still open.
    if (pid !== undefined) terminateGroup(pid)
    else socket.destroy()
  })
  frames.once('spec', (spec: ProgramSpec) => {
    const onStarted = (started: number): void => {
      pid = started
      socket.write(encodeReply({ started }))
    }
    runProgram(spec, (stdin) => frames.pipe(stdin), onStarted).then((result) => {
      // What the program did not read is read here and dropped, until Haraka closes.
      socket.unpipe(frames)
      socket.resume()
      socket.end(encodeReply({ result }))
      setTimeout(() => socket.destroy(), CLOSE_PATIENCE_MS).unref()
    })
  })
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
