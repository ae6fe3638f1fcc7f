// Preloaded into Haraka by the bench (NODE_OPTIONS=--require): measures how long each
// child_process.spawn() call blocks the calling thread. That is the part of a delivery that grows
// with the size of the parent (fork copies its page tables) and that nothing else can overlap.
// Counters go to the file named by PIPE_TRANSPORT_SPAWN_STATS a few times a second, so the
// bench reads them without touching Haraka's hot path.
import childProcess from 'node:child_process'
import { writeFileSync } from 'node:fs'

export const STATS_FILE_VARIABLE = 'PIPE_TRANSPORT_SPAWN_STATS'
/** How stale the file may be; the bench waits longer than this before reading it. */
export const WRITE_INTERVAL_MS = 100

export interface SpawnStats {
  readonly spawns: number
  readonly blockedMs: number
}

const statsFile = process.env[STATS_FILE_VARIABLE]
if (statsFile) {
  let spawns = 0
  let blockedNs = 0n
  const original = childProcess.spawn
  // Both pipe_transport and qmail-queue call spawn through the module object, so they see this.
  const timed = function (this: unknown, ...args: Parameters<typeof original>) {
    const started = process.hrtime.bigint()
    try {
      return original.apply(this, args)
    } finally {
      spawns++
      blockedNs += process.hrtime.bigint() - started
    }
  }
  childProcess.spawn = timed as typeof original
  let written = -1
  setInterval(() => {
    if (written === spawns) return
    written = spawns
    const stats: SpawnStats = { spawns, blockedMs: Number(blockedNs) / 1e6 }
    writeFileSync(statsFile, JSON.stringify(stats))
  }, WRITE_INTERVAL_MS).unref()
}
