// Every program runs as the leader of its own session and process group, so a timeout or
// shutdown can signal the program together with anything it forked. This module remembers which
// groups may still be alive so that none outlives Haraka: those it ends itself when it stops or
// exits, and those the guardian (guardian.ts) ends when Haraka is killed or crashes.
import { Guardian } from './guardian.js'

/** Time between SIGTERM and SIGKILL: room for a delivery agent to remove a half-written file. */
export const KILL_GRACE_MS = 2000

/** Groups whose program still runs, with what to do for them when Haraka shuts down. */
const running = new Map<number, () => void>()
/** Groups that got SIGTERM and are owed a SIGKILL when their grace ends. */
const condemned = new Set<number>()
const guardian = new Guardian(KILL_GRACE_MS)

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: the whole group is gone already, which is what we wanted.
  }
}

/** SIGTERM now, SIGKILL after the grace, whether or not the leader has exited meanwhile. */
export function terminateGroup(pgid: number): void {
  signalGroup(pgid, 'SIGTERM')
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
