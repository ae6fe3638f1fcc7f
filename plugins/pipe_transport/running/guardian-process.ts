// The guardian: a small process beside Haraka (guardian.ts starts it) that outlives a Haraka
// killed with SIGKILL, or crashed, long enough to end the program groups Haraka left running.
// Nothing else can: a program leads its own session, so nothing of Haraka's death reaches it.
//
// Haraka writes `+PGID` when a program group starts and `-PGID` when it is over, one per line,
// on the guardian's stdin. When Haraka is gone, every group still listed gets SIGKILL at once,
// and the guardian exits.
//
// At once, because the guardian can itself be killed: the OOM killer, or an operator's `kill -9`,
// often takes both within moments, and each millisecond between Haraka's death and the guardian's
// SIGKILL is a window in which the programs would survive. For the same reason it hears of the
// death from the kernel (PR_SET_PDEATHSIG), the moment it happens, rather than from its stdin,
// which it reads only a few times a second. A grace with SIGTERM first would serve the programs'
// clean-up, but Haraka's own exit ends them with SIGKILL too, and nobody is left to answer the
// client either way: the sender retries.
//
// It reads in bursts, a few times a second, rather than whenever a line comes: under load Haraka
// writes two lines per message, and waking for each would cost more than all the rest of the
// guardian. The pipe holds thousands of lines meanwhile; at Haraka's death they are read at once.
//
// Run as `node guardian-process.js HARAKA_PID` by guardian.ts only.
import { readSync } from 'node:fs'
import { Socket } from 'node:net'
import { constants } from 'node:os'
import { libc } from './libc.js'

/** How long the guardian leaves its stdin unread between bursts. */
const READ_EVERY_MS = 200
/** The signal the kernel sends the guardian when Haraka dies; Node leaves SIGUSR2 to applications. */
const PARENT_DIED = 'SIGUSR2'

const groups = new Set<number>()
let pending = ''

function take(chunk: string): void {
  const lines = (pending + chunk).split('\n')
  pending = lines.pop() ?? ''
  for (const line of lines) {
    const pgid = Number(line.slice(1))
    if (!(pgid > 1)) continue
    if (line.startsWith('+')) groups.add(pgid)
    else groups.delete(pgid)
  }
}

/** Every line Haraka wrote: what the socket holds, then what is left in the pipe, whose writer is gone. */
function readAll(input: Socket): void {
  for (let chunk = input.read() as string | null; chunk !== null; chunk = input.read() as string | null) take(chunk)
  const buffer = Buffer.alloc(64 * 1024)
  for (;;) {
    let bytes: number
    try {
      bytes = readSync(0, buffer)
    } catch {
      return // EAGAIN: a writer is still there after all (a stray signal); the groups read so far
    }
    if (bytes === 0) return
    take(buffer.toString('latin1', 0, bytes))
  }
}

function harakaGone(input: Socket): void {
  readAll(input)
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // ESRCH: that group is gone already
    }
  }
  process.exit(0)
}

function main(): void {
  const haraka = Number(process.argv[2])
  if (!Number.isInteger(haraka) || haraka <= 1 || process.stdin.isTTY) {
    process.stderr.write('guardian-process.js is started by pipe_transport inside Haraka, not by hand\n')
    process.exit(2)
  }
  process.title = 'haraka: pipe_transport guardian'
  // A one-byte high-water mark: after a read that finds anything, libuv stops reading until the
  // next burst takes it, so lines arriving meanwhile wake nobody.
  const input = new Socket({
    fd: 0,
    readable: true,
    writable: false,
    readableHighWaterMark: 1,
  } as ConstructorParameters<typeof Socket>[0])
  input.setEncoding('latin1')
  input.on('error', () => undefined) // 'close' follows
  // Where the kernel cannot tell (no glibc through koffi), the pipe's end says it, within a burst.
  input.once('close', () => harakaGone(input))
  process.on(PARENT_DIED, () => {
    if (process.ppid !== haraka) harakaGone(input)
  })
  libc?.setParentDeathSignal(constants.signals[PARENT_DIED])
  // Haraka may have died before the kernel was asked to tell.
  if (process.ppid !== haraka) return harakaGone(input)
  setInterval(() => {
    for (let chunk = input.read() as string | null; chunk !== null; chunk = input.read() as string | null) take(chunk)
  }, READ_EVERY_MS)
}

main()
