// What /proc tells the bench and the soak: CPU time of a process, its main thread, its children
// and the whole machine, peak RSS, and which processes carry a marker in their environment.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { statFields } from '../e2e/processes.js'

/** Clock ticks per second, the unit of the times in /proc/PID/stat (almost always 100). */
const TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

function ticksToMs(ticks: number): number {
  return (ticks * 1000) / TICKS_PER_SECOND
}

/**
 * CPU time (user + system) of the process's main thread, where Node runs JavaScript and where
 * spawn() blocks. The thread pool, GC helpers and the children are not counted.
 */
export function mainThreadCpuMs(pid: number): number {
  // utime and stime are fields 14 and 15.
  const fields = statFields(`/proc/${pid}/task/${pid}/stat`)
  return ticksToMs(Number(fields[11]) + Number(fields[12]))
}

export interface ProcessCpu {
  /** The process itself, all of its threads. */
  readonly selfMs: number
  /** Its children that ended and were waited for (for Haraka and the helpers: the programs). */
  readonly childrenMs: number
}

export function processCpuMs(pid: number): ProcessCpu {
  // utime, stime, cutime, cstime are fields 14 to 17.
  const [utime, stime, cutime, cstime] = statFields(`/proc/${pid}/stat`).slice(11, 15).map(Number)
  return { selfMs: ticksToMs((utime ?? 0) + (stime ?? 0)), childrenMs: ticksToMs((cutime ?? 0) + (cstime ?? 0)) }
}

/** CPU time the whole machine spent on anything but idling and waiting for I/O, over all CPUs. */
export function machineCpuMs(): { readonly busyMs: number } {
  const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/)
  const ticks = fields.map(Number)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return { busyMs: ticksToMs(ticks.reduce((sum, value) => sum + value, 0) - idle) }
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
