// What a soak checks once its last message is answered, shared by soak.ts and mta-soak.ts:
// which of its programs are still running, whether Haraka still serves, and the clean-up of what
// a failed check found left over.
import { setTimeout as sleep } from 'node:timers/promises'
import { SmtpSession } from '../e2e/smtp.js'
import { pidsWithEnvironment } from './proc-stats.js'

/**
 * Waits up to `patienceMs` for every process whose environment holds `variable=marker` (the soak's
 * programs and their children) to end; returns those still there then.
 */
export async function waitForNoProcesses(variable: string, marker: string, patienceMs: number): Promise<number[]> {
  const deadline = Date.now() + patienceMs
  for (;;) {
    const pids = pidsWithEnvironment(variable, marker)
    if (pids.length === 0 || Date.now() > deadline) return pids
    await sleep(100)
  }
}

/** Haraka accepts a connection and greets. */
export async function isServing(port: number): Promise<boolean> {
  try {
    ;(await SmtpSession.open(port)).close()
    return true
  } catch {
    return false
  }
}

/** Only after a failed check: ends what it found left over (the soak's own programs, by pid). */
export function killLeftovers(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}
