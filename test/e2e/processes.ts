// Process checks for the end-to-end tests: is a pid still a live process, whose child is it?
import { readFileSync, readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * The fields of a /proc stat file (`/proc/PID/stat`, `/proc/PID/task/TID/stat`) after the
 * parenthesised command name, which may hold spaces: [0] is field 3 (the state), [1] field 4
 * (the parent pid), [11] and [12] fields 14 and 15 (utime, stime). Throws if the file is gone.
 */
export function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** True while the pid names a process that is not a zombie (a zombie has already ended). */
export function isAlive(pid: number): boolean {
  try {
    return statFields(`/proc/${pid}/stat`)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Waits up to `timeoutMs` for every pid to end; returns those still alive then. */
export async function survivorsAfter(pids: readonly (number | undefined)[], timeoutMs = 5000): Promise<number[]> {
  const alive = (): number[] => pids.filter((pid): pid is number => pid !== undefined && isAlive(pid))
  const deadline = Date.now() + timeoutMs
  while (alive().length > 0 && Date.now() < deadline) await sleep(100)
  return alive()
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

/** What ps shows for the guardian (guardian-process.ts sets it). */
export const GUARDIAN_TITLE = /^haraka: pipe_transport guardian$/
/** What ps shows for the journal process (journal-process.ts sets it). */
export const JOURNAL_TITLE = /^haraka: pipe_transport journal$/

/** The command line of a process as ps shows it (NULs as spaces, trailing ones dropped). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/** The parent pid of a live process, or undefined. */
export function parentOf(pid: number): number | undefined {
  try {
    return Number(statFields(`/proc/${pid}/stat`)[1])
  } catch {
    return undefined
  }
}

/** Live children of a process. */
export function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => parentOf(pid) === parent && isAlive(pid))
}

/** The guardian of a Haraka process (or of a cluster worker), by its title; undefined before its first program. */
export function guardianOf(haraka: number): number | undefined {
  return childrenOf(haraka).find((pid) => GUARDIAN_TITLE.test(commandLine(pid)))
}

/** The journal process of a Haraka process (journal = local), by its title; undefined before the journal's first use. */
export function journalProcessOf(haraka: number): number | undefined {
  return childrenOf(haraka).find((pid) => JOURNAL_TITLE.test(commandLine(pid)))
}
