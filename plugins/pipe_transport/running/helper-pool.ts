// Haraka's side of the spawn helpers (`spawn_helpers`): a few long-lived helper processes
// (spawn-helper.ts) that fork the delivery programs, so that no fork() blocks Haraka's event
// loop. `run` has runProgram's signature; delivery.ts calls it for every delivery.
//
// A helper that dies takes its connections with it: each delivery it had in flight is answered
// 4xx, and Haraka, which was told every program's pid, ends those program groups itself. A new
// helper takes the dead one's place.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Outcome } from '../reply/exit-reply.js'
import { HelperConnection } from './helper-connection.js'
import { terminateGroup, trackRunning, untrackRunning } from './process-groups.js'
import { runProgram, type Feed, type ProgramSpec, type RunResult } from './run-program.js'

const HELPER_MAIN = join(__dirname, 'spawn-helper.js')
/** First wait before restarting a helper that died; doubled for each quick death after it. */
const RESTART_DELAY_MS = 100
const MAX_RESTART_DELAY_MS = 30_000
/** A helper that lived this long died of something else than a crash loop: restart at once. */
const STABLE_AFTER_MS = 30_000
/**
 * Open connections a helper keeps between deliveries. Peak concurrency sets how many there are;
 * past this many, a finished delivery's connection is closed instead of kept.
 */
const MAX_IDLE_CONNECTIONS = 64

export interface PoolLog {
  loginfo(message: string): void
  logwarn(message: string): void
  logerror(message: string): void
}

interface Helper {
  readonly index: number
  readonly child: ChildProcess
  readonly socketPath: string
  readonly startedAt: number
  ready: boolean
  inFlight: number
  /** Connections to it with no delivery, for the next ones (helper-connection.ts). */
  readonly idle: Set<HelperConnection>
  /** Deliveries answered 4xx because this helper died (their connections may close before 'exit'). */
  lost: number
  /** Taken out of the pool by a smaller spawn_helpers: ends once its deliveries have. */
  retiring: boolean
}

export class HelperPool {
  private size = 0
  /** Set by start(): this process serves SMTP (not a cluster master) and may run helpers. */
  private log: PoolLog | undefined
  private stopping = false
  private dir: string | undefined
  private generation = 0
  private readonly current = new Map<number, Helper>()
  private readonly retired = new Set<Helper>()
  private readonly restartDelay = new Map<number, number>()
  private readonly restarts = new Map<number, NodeJS.Timeout>()
  /** How to end each delivery in flight through a helper when Haraka shuts down. */
  private readonly inFlight = new Set<() => void>()

  /** spawn_helpers from the config, at start-up and on every reload. */
  configure(size: number): void {
    this.size = size
    if (this.log) this.resize()
  }

  /** Haraka serves SMTP in this process: bring the pool to its configured size. */
  start(log: PoolLog): void {
    this.log = log
    this.resize()
  }

  /** Haraka is stopping: helpers and their programs end; no delivery in flight is answered 250. */
  stop(): void {
    this.stopping = true
    for (const end of [...this.inFlight]) end()
    for (const timer of this.restarts.values()) clearTimeout(timer)
    // A helper exits, killing its program groups, when its channel to Haraka closes.
    for (const helper of [...this.current.values(), ...this.retired]) {
      for (const connection of helper.idle) connection.close()
      if (helper.child.connected) helper.child.disconnect()
    }
    this.removeDir()
  }

  /** runProgram's contract, through the least busy helper; in Haraka itself when none is ready. */
  readonly run = async (spec: ProgramSpec, feed: Feed): Promise<RunResult> => {
    let helper: Helper | undefined
    for (const each of this.current.values()) {
      if (each.ready && (!helper || each.inFlight < helper.inFlight)) helper = each
    }
    // No helper (spawn_helpers = 0, or all of them restarting): spawn here, as without helpers.
    if (!helper || this.stopping) return runProgram(spec, feed)
    helper.inFlight++
    try {
      return await this.runOn(helper, spec, feed)
    } finally {
      helper.inFlight--
      if (helper.retiring && helper.inFlight === 0 && helper.child.connected) helper.child.disconnect()
    }
  }

  private runOn(helper: Helper, spec: ProgramSpec, feed: Feed): Promise<RunResult> {
    return new Promise<RunResult>((resolve) => {
      const connection = takeIdle(helper) ?? new HelperConnection(helper.socketPath, (closed) => helper.idle.delete(closed))
      let pid: number | undefined
      let ending: Outcome | undefined // set when Haraka, not the program, decided how this ends
      let settled = false

      const endBy = (outcome: Outcome): void => {
        if (ending) return
        ending = outcome
        if (pid !== undefined) terminateGroup(pid)
      }
      const shutdown = (): void => endBy({ kind: 'shutdown' })
      const settle = (result: RunResult | Promise<RunResult>, reusable: boolean): void => {
        if (settled) return
        settled = true
        this.inFlight.delete(shutdown)
        if (pid !== undefined) untrackRunning(pid)
        resolve(result)
        // After the caller has unpiped the message stream (the same tick), not before.
        setImmediate(() => {
          const inPool = this.current.get(helper.index) === helper && !this.stopping
          if (reusable && connection.finish() && inPool && helper.idle.size < MAX_IDLE_CONNECTIONS) helper.idle.add(connection)
          else connection.close()
        })
      }
      this.inFlight.add(shutdown)

      connection.send(spec, feed, {
        reply: (reply) => {
          if ('started' in reply) {
            pid = reply.started
            trackRunning(pid, shutdown)
            if (ending) terminateGroup(pid)
          } else {
            settle({ outcome: ending ?? reply.result.outcome, bytesWritten: reply.result.bytesWritten }, true)
          }
        },
        closed: (failure) => {
          if (settled) return
          if (!connection.wasConnected && !ending) {
            // It never took the delivery (it died a moment ago): the message is still unread.
            this.log?.logwarn(`spawn helper ${helper.index} could not be reached (${failure}); spawning in Haraka`)
            settle(runProgram(spec, feed), false)
            return
          }
          // The helper died with the delivery in flight. Its program may live on: end its group.
          if (pid !== undefined) terminateGroup(pid)
          const cause = `spawn helper ${helper.index} (pid ${helper.child.pid}) ${failure}`
          if (!ending && !this.stopping) helper.lost++
          settle({ outcome: ending ?? (this.stopping ? { kind: 'shutdown' } : { kind: 'helper-lost', cause }), bytesWritten: 0 }, false)
        },
      })
    })
  }

  private resize(): void {
    if (this.stopping) return
    for (const [index, helper] of this.current) {
      if (index <= this.size) continue
      this.current.delete(index)
      helper.retiring = true
      for (const connection of helper.idle) connection.close()
      this.retired.add(helper)
      if (helper.inFlight === 0 && helper.child.connected) helper.child.disconnect()
    }
    for (let index = 1; index <= this.size; index++) {
      if (!this.current.has(index) && !this.restarts.has(index)) this.startHelper(index)
    }
  }

  private startHelper(index: number): void {
    const log = this.log
    if (!log || this.stopping) return
    // A private (0700) directory: only Haraka's user can connect to a helper.
    this.dir ??= mkdtempSync(join(tmpdir(), 'haraka-pipe-transport-'))
    const socketPath = join(this.dir, `helper-${index}.${++this.generation}.sock`)
    const child = fork(HELPER_MAIN, [String(index), socketPath], {
      // Small and clean: none of Haraka's node options (e.g. --require) or environment;
      // --expose-gc lets it collect the buffers a large message leaves (spawn-helper.ts).
      execArgv: ['--expose-gc'],
      env: {},
      // Its own session: a Ctrl-C meant for Haraka reaches Haraka, which then ends the helpers.
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const helper: Helper = { index, child, socketPath, startedAt: Date.now(), ready: false, inFlight: 0, idle: new Set(), lost: 0, retiring: false }
    this.current.set(index, helper)
    child.on('message', (message) => {
      if (message !== 'ready') return
      helper.ready = true
      log.loginfo(`spawn helper ${index} ready (pid ${child.pid})`)
      child.send('in-pool')
    })
    // 'error' without 'exit' means it could not be started at all.
    child.on('error', (err) => this.helperEnded(helper, `could not run: ${err.message}`))
    child.on('exit', (code, signal) => this.helperEnded(helper, signal ? `killed by ${signal}` : `exited with status ${code}`))
  }

  private helperEnded(helper: Helper, how: string): void {
    helper.ready = false
    if (this.retired.delete(helper) || this.current.get(helper.index) !== helper) return
    this.current.delete(helper.index)
    if (this.stopping) return
    const lived = Date.now() - helper.startedAt
    const delay = lived >= STABLE_AFTER_MS ? 0 : Math.min(MAX_RESTART_DELAY_MS, this.restartDelay.get(helper.index) ?? RESTART_DELAY_MS)
    this.restartDelay.set(helper.index, delay === 0 ? RESTART_DELAY_MS : delay * 2)
    this.log?.logerror(
      `spawn helper ${helper.index} (pid ${helper.child.pid}) ${how} with ${helper.inFlight + helper.lost} deliveries in flight; ` +
        `they are answered 4xx; a new helper starts in ${delay} ms`,
    )
    this.restarts.set(
      helper.index,
      setTimeout(() => {
        this.restarts.delete(helper.index)
        if (helper.index <= this.size) this.startHelper(helper.index)
      }, delay),
    )
  }

  private removeDir(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
    this.dir = undefined
  }
}

function takeIdle(helper: Helper): HelperConnection | undefined {
  const [connection] = helper.idle
  if (connection) helper.idle.delete(connection)
  return connection
}

/** The one pool of this Haraka process (each cluster worker has its own). */
export const helperPool = new HelperPool()

process.on('exit', () => helperPool.stop())
