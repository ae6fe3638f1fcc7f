// Waits for the programs that posix_spawn started. libuv reaps only the children it started
// itself, each by its own pid, so these are ours to reap, and only by pid as well: waitpid(-1)
// would take Haraka's other children (queue/qmail-queue's, say) from libuv.
import { constants } from 'node:os'
import { WNOHANG, type Libc } from './libc.js'

export interface ExitStatus {
  /** The exit status, or null when a signal ended the program. */
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
}

const SIGNAL_NAMES = new Map(
  Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
)

/** Decodes a wait status (<sys/wait.h> WIFEXITED, WEXITSTATUS, WTERMSIG). */
export function decodeWaitStatus(status: number): ExitStatus {
  const signal = status & 0x7f
  if (signal === 0) return { status: (status >> 8) & 0xff, signal: null }
  return { status: null, signal: SIGNAL_NAMES.get(signal) ?? (`SIG${signal}` as NodeJS.Signals) }
}

export class Reaper {
  private readonly waiting = new Map<number, (exit: ExitStatus) => void>()
  private listening = false
  private readonly status: [number] = [0]

  constructor(private readonly libc: Libc) {}

  /**
   * Call before the first spawn: a program can end before posix_spawn has returned. The
   * listener does not keep Node's loop alive; each run's timeout timer does.
   */
  listen(): void {
    if (this.listening) return
    this.listening = true
    process.on('SIGCHLD', () => this.reapExited())
  }

  /** Resolves once the program has ended and has been reaped. */
  exitOf(pid: number): Promise<ExitStatus> {
    return new Promise((resolve) => {
      this.waiting.set(pid, resolve)
      // It may have ended before it was added here (SIGCHLDs merge; none is lost, but one may
      // already have been handled).
      this.reap(pid)
    })
  }

  private reapExited(): void {
    for (const pid of [...this.waiting.keys()]) this.reap(pid)
  }

  private reap(pid: number): void {
    const reaped = this.libc.waitpid(pid, this.status, WNOHANG)
    if (reaped === 0) return // still running
    const resolve = this.waiting.get(pid)
    this.waiting.delete(pid)
    // -1 (ECHILD) cannot happen to a child nobody else waits for; if it does, say "unknown".
    resolve?.(reaped === pid ? decodeWaitStatus(this.status[0]) : { status: null, signal: null })
  }
}
