// What /proc tells the bench and the soak about a process: CPU time of its main thread, peak
// RSS, and which processes carry a marker in their environment.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'

/** Clock ticks per second, the unit of the times in /proc/PID/stat (almost always 100). */
const TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * CPU time (user + system) of the process's main thread, where Node runs JavaScript and where
 * spawn() blocks. The thread pool, GC helpers and the children are not counted.
 */
export function mainThreadCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND
}

/** Peak resident set size (VmHWM) in bytes. */
export function peakRssBytes(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? Number.NaN) * 1024
}

/** Sets the peak RSS back to the current RSS (Linux >= 4.0); false where the kernel refuses. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/** Pids of live processes whose environment holds `NAME=value` (children inherit it). */
export function pidsWithEnvironment(name: string, value: string): number[] {
  const wanted = `${name}=${value}`
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let environ: string
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1')
    } catch {
      continue // gone meanwhile, or not ours to read
    }
    if (environ.split('\0').includes(wanted)) pids.push(Number(entry))
  }
  return pids
}
