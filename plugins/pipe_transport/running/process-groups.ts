// Every program runs as the leader of its own session and process group, so a timeout or
// shutdown can signal the program together with anything it forked, and so can its exit: what a
// program leaves of its group when it exits is ended too, unless its instance keeps it
// (`leftover_processes = keep`). This module remembers which groups may still be alive so that
// none outlives Haraka: those it ends itself when it stops or exits, and those the guardian
// (guardian.ts) ends when Haraka is killed or crashes.
import { constants } from 'node:os'
import { Guardian } from './guardian.js'
import { libc } from './libc.js'

/** Time between SIGTERM and SIGKILL: room for a delivery agent to remove a half-written file. */
export const KILL_GRACE_MS = 2000

/** Groups whose program still runs, with what to do for them when Haraka shuts down. */
const running = new Map<number, () => void>()
/** Groups that got SIGTERM and are owed a SIGKILL when their grace ends. */
const condemned = new Set<number>()
const guardian = new Guardian()

/** Sends `signal` to the group; false when there is no such group (every member has ended). */
export function signalGroup(pgid: number, signal: 'SIGTERM' | 'SIGKILL'): boolean {
  // glibc's kill() where it can be had: Node's process.kill() throws for a group that is gone,
  // which is what every program's exit finds, at several microseconds per exception.
  if (libc) return libc.kill(-pgid, constants.signals[signal]) === 0
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

/** SIGTERM now, SIGKILL after the grace, whether or not the leader has exited meanwhile. */
export function terminateGroup(pgid: number): void {
  signalGroup(pgid, 'SIGTERM')
  condemn(pgid)
}

/**
 * The program has exited by itself: whatever is left of its group (children it forked and did
 * not wait for) gets SIGTERM, and SIGKILL after the grace. Usually nothing is left, and the
 * signal, finding no group, is all it costs.
 */
export function endLeftovers(pgid: number): void {
  if (signalGroup(pgid, 'SIGTERM')) condemn(pgid)
}

function condemn(pgid: number): void {
  condemned.add(pgid)
  setTimeout(() => {
    condemned.delete(pgid)
    signalGroup(pgid, 'SIGKILL')
    if (!running.has(pgid)) guardian.remove(pgid)
  }, KILL_GRACE_MS)
}

export function trackRunning(pgid: number, onShutdown: () => void): void {
  running.set(pgid, onShutdown)
  guardian.add(pgid)
}

/** Call after endLeftovers(), so that a group with leftovers stays the guardian's until its SIGKILL. */
export function untrackRunning(pgid: number): void {
  running.delete(pgid)
  if (!condemned.has(pgid)) guardian.remove(pgid)
}

/** Haraka is stopping: every running delivery ends now, and none of them as a success. */
export function shutdownAll(): void {
  for (const onShutdown of [...running.values()]) onShutdown()
}

// A process that exits cannot wait for timers: whatever is still alive gets SIGKILL right away.
process.on('exit', () => {
  for (const pgid of [...running.keys(), ...condemned]) signalGroup(pgid, 'SIGKILL')
})
