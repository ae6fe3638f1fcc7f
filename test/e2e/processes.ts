// Process checks for the end-to-end tests: is a pid still a live process?
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

/** True while the pid names a process that is not a zombie (a zombie has already ended). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 3, after the parenthesised command name, is the state.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** Waits for a file a program writes (e.g. its pids) to exist and end with `ending`. */
export async function waitForFile(path: string, timeoutMs = 10_000, ending = '\n'): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const text = readFileSync(path, 'utf8')
      if (text.endsWith(ending)) return text
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`${path} never appeared`)
    await sleep(25)
  }
}

/** Resident set size of a process in bytes. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? Number.NaN) * 1024
}
