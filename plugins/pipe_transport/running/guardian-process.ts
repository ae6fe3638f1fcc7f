// The guardian: a small process beside Haraka (guardian.ts starts it) that outlives a Haraka
// killed with SIGKILL, or crashed, long enough to end the program groups Haraka left running.
// Nothing else can: a program leads its own session, so nothing of Haraka's death reaches it.
//
// Haraka writes `+PGID` when a program group starts and `-PGID` when it is over, one per line,
// on the guardian's stdin. When that pipe closes, Haraka is gone (or stopping): every group still
// listed gets SIGTERM, then SIGKILL after the same grace as a timeout, and the guardian exits.
//
// It reads in bursts, a few times a second, rather than whenever a line comes: under load Haraka
// writes two lines per message, and waking for each would cost more than all the rest of the
// guardian. The pipe holds thousands of lines meanwhile, and noticing Haraka's death a fraction of
// a second later changes nothing.
//
// Run as `node guardian-process.js GRACE_MS` by guardian.ts only.
import { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** How long the guardian leaves its stdin unread between bursts. */
const READ_EVERY_MS = 200

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

function signalAll(signal: NodeJS.Signals): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal)
    } catch {
      // ESRCH: that group is gone already
    }
  }
}

async function harakaGone(graceMs: number): Promise<void> {
  signalAll('SIGTERM')
  if (groups.size > 0) await sleep(graceMs)
  signalAll('SIGKILL')
  process.exit(0)
}

function main(): void {
  const graceMs = Number(process.argv[2])
  if (!Number.isInteger(graceMs) || process.stdin.isTTY) {
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
  input.once('close', () => void harakaGone(graceMs))
  setInterval(() => {
    for (let chunk = input.read() as string | null; chunk !== null; chunk = input.read() as string | null) take(chunk)
  }, READ_EVERY_MS)
}

main()
