// The guardian: a small process beside Haraka (guardian.ts starts it) that outlives a Haraka
// killed with SIGKILL, or crashed, long enough to end the program groups Haraka left running.
// Nothing else can: a program leads its own session, so nothing of Haraka's death reaches it.
//
// Haraka writes `+PGID` when a program group starts and `-PGID` when it is over, one per line,
// on the guardian's stdin. When that pipe closes, Haraka is gone (or stopping): every group still
// listed gets SIGTERM, then SIGKILL after the same grace as a timeout, and the guardian exits.
//
// Run as `node guardian-process.js GRACE_MS` by guardian.ts only.
import { setTimeout as sleep } from 'node:timers/promises'

const groups = new Set<number>()

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
  let pending = ''
  process.stdin.setEncoding('latin1')
  process.stdin.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const pgid = Number(line.slice(1))
      if (!(pgid > 1)) continue
      if (line[0] === '+') groups.add(pgid)
      else groups.delete(pgid)
    }
  })
  process.stdin.on('close', () => void harakaGone(graceMs))
  process.stdin.on('error', () => undefined) // 'close' follows
}

main()
