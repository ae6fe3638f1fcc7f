// Hands log entries (log-entries.ts) to Haraka: each line to the connection's log, each result to
// transaction.results; and the tag that says which process of a cluster speaks.
import cluster from 'node:cluster'
import type { HarakaConnection, HarakaPlugin } from '../types/haraka-types.js'
import type { LogEntry } from './log-entries.js'

export function record(plugin: object, connection: HarakaConnection, entries: readonly LogEntry[]): void {
  for (const { level, message, fields, result } of entries) {
    if (result) connection.transaction?.results.add(plugin, result)
    // Haraka's logger appends every argument that is not an object: an absent one as "undefined".
    if (fields) connection[`log${level}`](plugin, message, fields)
    else connection[`log${level}`](plugin, message)
  }
}

/**
 * In cluster mode (smtp.ini `nodes`) the master and every worker load the config and log about
 * it; each says which it is. Haraka fills in `nodes = 1` when smtp.ini leaves it unset.
 */
export function processTag(nodes: unknown): string {
  if (cluster.isWorker) return `worker ${cluster.worker?.id ?? '?'}: `
  return nodes ? 'cluster master: ' : ''
}

/** The plugin's own log, as the stages take it: a line at each level, outside any connection. */
export function pluginLog(plugin: HarakaPlugin): {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
} {
  return {
    info: (message) => plugin.loginfo(message),
    warn: (message) => plugin.logwarn(message),
    error: (message) => plugin.logerror(message),
  }
}
