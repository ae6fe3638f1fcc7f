// Haraka's side of the guardian (guardian-process.ts): a process that ends the program groups a
// Haraka killed with SIGKILL leaves behind. Haraka tells it each group it starts and each one
// that is over; the kernel tells the guardian when Haraka dies, and the pipe's end does too.
//
// It starts with the first program, so a cluster master, which runs none, has none. It does not
// keep Haraka running, and one that dies is replaced at once, told every group still listed: a
// Haraka killed a moment after its guardian must not find itself without one.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { Socket } from 'node:net'
import { markCloseOnExec } from './close-on-exec.js'
import { gatherWrites } from './gather-writes.js'

const GUARDIAN_MAIN = join(__dirname, 'guardian-process.js')
/**
 * A guardian that died within this long of its start is replaced only after this long, so that
 * one that cannot run is not a loop of spawns.
 */
const RESTART_DELAY_MS = 1000

export class Guardian {
  private child: ChildProcess | undefined
  private restart: NodeJS.Timeout | undefined
  private readonly groups = new Set<number>()

  add(pgid: number): void {
    this.groups.add(pgid)
    if (!this.child && !this.restart) this.start()
    else this.child?.stdin?.write(`+${pgid}\n`)
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.child?.stdin?.write(`-${pgid}\n`)
  }

  private start(): void {
    markCloseOnExec()
    const started = Date.now()
    const child = spawn(process.execPath, [GUARDIAN_MAIN, String(process.pid)], {
      // Its own session: a Ctrl-C for Haraka must not end it before Haraka has ended the programs.
      detached: true,
      env: {},
      stdio: ['pipe', 'ignore', 'inherit'],
    })
    this.child = child
    // Haraka must be able to exit (or a tool that delivers once) while the guardian runs.
    child.unref()
    // The pipe to a child is a net.Socket, which can let Haraka exit while it is open.
    if (child.stdin instanceof Socket) child.stdin.unref()
    child.stdin.on('error', () => undefined) // it died: 'exit' follows
    // The lines of one tick (a program that ends, the next that starts) in one write.
    gatherWrites(child.stdin)
    child.once('exit', () => {
      if (this.child !== child) return
      this.child = undefined
      if (Date.now() - started >= RESTART_DELAY_MS) {
        if (this.groups.size > 0) this.start()
        return
      }
      this.restart = setTimeout(() => {
        this.restart = undefined
        if (this.groups.size > 0) this.start()
      }, RESTART_DELAY_MS)
      this.restart.unref()
    })
    if (this.groups.size > 0) child.stdin.write([...this.groups].map((pgid) => `+${pgid}\n`).join(''))
  }
}
