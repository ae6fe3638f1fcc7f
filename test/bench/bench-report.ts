// Turns the bench's measurements into the printed report: one table row per concurrency and
// mode, the ratios to qmail-queue and discard, the spawn() share and what removing it could
// give, where the CPU time goes and what the CPUs allow, and the memory taken by one large message.
import { cpus } from 'node:os'
import { quantile } from './load.js'
import { DISCARD, MODES, QMAIL_QUEUE } from './modes.js'
import type { SpawnProbe } from './spawn-probe.js'

/** CPU time used during a run, by who used it. */
export interface CpuUse {
  /** Haraka's process, all threads. */
  readonly harakaMs: number
  readonly helpersMs: number
  /** The delivery programs, from fork to exit (counted when their parent reaps them). */
  readonly programsMs: number
  /** This bench's own process: the SMTP client. */
  readonly clientMs: number
  /** The whole machine, everything that was not idle. */
  readonly machineBusyMs: number
}

/** One timed run of one mode. */
export interface Cell {
  readonly messages: number
  readonly elapsedMs: number
  readonly latenciesMs: readonly number[]
  readonly spawnBlockedMs: number
  readonly mainCpuMs: number
  readonly cpu: CpuUse
}

export interface MemoryFigure {
  readonly mode: string
  readonly beforeBytes: number
  readonly peakBytes: number
  /** The kernel would not reset the peak, so it may predate the message. */
  readonly peakSinceStart: boolean
  /** The most any spawn helper's peak RSS grew over its RSS before; undefined without helpers. */
  readonly helperGrowthBytes: number | undefined
}

export interface Setup {
  readonly drainKind: string
  readonly harakaVersion: string
  readonly harakaRssBytes: Readonly<Record<string, number>>
  readonly smallParent: SpawnProbe
  readonly messages: number
  readonly rounds: number
  readonly concurrencies: readonly number[]
  readonly largeMegabytes: number
}

interface Row {
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly mainCpuMsPerMessage: number
  readonly spawnMsPerMessage: number
  /** Of the run's wall time, the share Haraka's main thread spent inside spawn(). */
  readonly spawnShareOfTime: number
  /** CPU time per message. */
  readonly cpuPerMessage: CpuUse
  /** Of all the CPUs over the run's wall time, the share that was busy. */
  readonly machineBusyShare: number
}

function summarise(cells: readonly Cell[]): Row {
  const sum = (pick: (cell: Cell) => number): number => cells.reduce((total, cell) => total + pick(cell), 0)
  const latencies = cells.flatMap((cell) => cell.latenciesMs)
  const messages = sum((cell) => cell.messages)
  const elapsedMs = sum((cell) => cell.elapsedMs)
  return {
    perSecond: (messages * 1000) / elapsedMs,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    mainCpuMsPerMessage: sum((cell) => cell.mainCpuMs) / messages,
    spawnMsPerMessage: sum((cell) => cell.spawnBlockedMs) / messages,
    spawnShareOfTime: sum((cell) => cell.spawnBlockedMs) / elapsedMs,
    cpuPerMessage: {
      harakaMs: sum((cell) => cell.cpu.harakaMs) / messages,
      helpersMs: sum((cell) => cell.cpu.helpersMs) / messages,
      programsMs: sum((cell) => cell.cpu.programsMs) / messages,
      clientMs: sum((cell) => cell.cpu.clientMs) / messages,
      machineBusyMs: sum((cell) => cell.cpu.machineBusyMs) / messages,
    },
    machineBusyShare: sum((cell) => cell.cpu.machineBusyMs) / (elapsedMs * cpus().length),
  }
}

const MB = 1024 * 1024
const fixed = (value: number, digits: number, width: number): string => value.toFixed(digits).padStart(width)
const megabytes = (bytes: number): string => `${Math.round(bytes / MB)} MB`

export function formatReport(setup: Setup, cells: ReadonlyMap<string, readonly Cell[]>, memory: readonly MemoryFigure[]): string {
  const cpu = cpus()
  const lines = [
    `pipe_transport bench: Haraka ${setup.harakaVersion}, Node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
    `program: ${setup.drainKind} drain; ${setup.messages} messages of 3 kB per run, ${setup.rounds} alternating runs per mode and concurrency, connections kept open`,
    '',
    'main CPU: CPU time of Haraka\'s main thread; spawn: time that thread spent inside spawn(), per message and as a share of the run',
    '',
    'conc  mode                                      msg/s  p50 ms  p99 ms   x b   x c  main CPU ms/msg  spawn ms/msg  spawn % of time',
  ]
  const rows = new Map<string, Row>()
  for (const concurrency of setup.concurrencies) {
    for (const mode of MODES) rows.set(`${concurrency} ${mode.name}`, summarise(cells.get(`${concurrency} ${mode.name}`) ?? []))
    const rate = (name: string): number => rows.get(`${concurrency} ${name}`)?.perSecond ?? Number.NaN
    for (const mode of MODES) {
      const row = rows.get(`${concurrency} ${mode.name}`)
      if (!row) continue
      lines.push(
        `${String(concurrency).padStart(4)}  ${`${mode.name} ${mode.label}`.padEnd(40)}${fixed(row.perSecond, 0, 7)}` +
          `${fixed(row.p50, 2, 8)}${fixed(row.p99, 2, 8)}${fixed(row.perSecond / rate(QMAIL_QUEUE), 2, 6)}` +
          `${fixed(row.perSecond / rate(DISCARD), 2, 6)}${fixed(row.mainCpuMsPerMessage, 3, 17)}${fixed(row.spawnMsPerMessage, 3, 14)}` +
          `${fixed(100 * row.spawnShareOfTime, 0, 16)}%`,
      )
    }
  }
  lines.push(
    '',
    'CPU time per message in ms: Haraka (all its threads), the spawn helpers, the delivery programs (fork to exit), the client',
    `(this bench), and the whole machine; busy: the machine's share of its ${cpu.length} CPUs over the run`,
    '',
    'conc  mode                                     Haraka  helpers  programs  client  machine  busy',
  )
  for (const concurrency of setup.concurrencies) {
    for (const mode of MODES) {
      const row = rows.get(`${concurrency} ${mode.name}`)
      if (!row) continue
      const use = row.cpuPerMessage
      lines.push(
        `${String(concurrency).padStart(4)}  ${`${mode.name} ${mode.label}`.padEnd(40)}${fixed(use.harakaMs, 2, 7)}${fixed(use.helpersMs, 2, 9)}` +
          `${fixed(use.programsMs, 2, 10)}${fixed(use.clientMs, 2, 8)}${fixed(use.machineBusyMs, 2, 9)}${fixed(100 * row.machineBusyShare, 0, 5)}%`,
      )
    }
  }
  lines.push('')

  const rowOf = (concurrency: number, name: string): Row | undefined => rows.get(`${concurrency} ${name}`)
  // Issue 8's goal for the spawn helpers: at 8 connections, 1.5 times qmail-queue's rate with a p99
  // latency no worse than its.
  const helpers = rowOf(8, 'a2')
  const qmail = rowOf(8, QMAIL_QUEUE)
  if (helpers && qmail) {
    const ratio = helpers.perSecond / qmail.perSecond
    const met = ratio >= 1.5 && helpers.p99 <= qmail.p99
    lines.push(
      `a2/${QMAIL_QUEUE} at 8 connections: ${ratio.toFixed(2)}, p99 ${helpers.p99.toFixed(2)} vs ${qmail.p99.toFixed(2)} ms ` +
        `(goal >= 1.50 with p99 no worse): ${met ? 'met' : 'NOT met'}`,
    )
    // What the CPUs allow: a mode that needs C ms of CPU per message cannot pass cores * 1000 / C
    // messages per second, however its work is spread over processes.
    const perMessage = helpers.cpuPerMessage.machineBusyMs
    const goal = 1.5 * qmail.perSecond
    lines.push(
      `a2 at 8 connections took ${perMessage.toFixed(2)} ms of CPU per message, the CPUs ${(100 * helpers.machineBusyShare).toFixed(0)}% busy: ` +
        `at most ${((cpu.length * 1000) / perMessage).toFixed(0)} msg/s on ${cpu.length} CPUs; ` +
        `1.5 x ${QMAIL_QUEUE} = ${goal.toFixed(0)} msg/s needs at most ${((cpu.length * 1000) / goal).toFixed(2)} ms per message`,
    )
  }
  const contenders = MODES.filter((mode) => mode.name !== QMAIL_QUEUE && mode.name !== DISCARD)
  for (const mode of contenders) {
    for (const [reference, goal] of [
      [QMAIL_QUEUE, ' (goal >= 1.00 at every concurrency)'],
      [DISCARD, ''],
    ] as const) {
      const ratios = setup.concurrencies.map((c) => (rowOf(c, mode.name)?.perSecond ?? Number.NaN) / (rowOf(c, reference)?.perSecond ?? Number.NaN))
      const met = goal && (ratios.every((ratio) => ratio >= 1) ? ': met' : ': NOT met')
      lines.push(`${mode.name}/${reference}: ${ratios.map((r, i) => `${r.toFixed(2)} at ${setup.concurrencies[i]}`).join(', ')}${goal}${met}`)
    }
    // Each message's spawn() blocks Haraka's only JavaScript thread; without it a message
    // would take that much less, but never less than discard's (which runs no program).
    const projected = setup.concurrencies.map((c) => {
      const row = rowOf(c, mode.name)
      const ceiling = rowOf(c, DISCARD)?.perSecond ?? Number.POSITIVE_INFINITY
      if (!row) return 'n/a'
      const perSecond = Math.min(ceiling, 1000 / (1000 / row.perSecond - row.spawnMsPerMessage))
      return `${perSecond.toFixed(0)} msg/s at ${c} (${mode.name}/${QMAIL_QUEUE} ${(perSecond / (rowOf(c, QMAIL_QUEUE)?.perSecond ?? Number.NaN)).toFixed(2)})`
    })
    lines.push(`${mode.name} if spawn() cost nothing (upper bound, capped by discard): ${projected.join(', ')}`)
  }
  const harakaRss = setup.harakaRssBytes[contenders[0]?.name ?? ''] ?? Number.NaN
  const harakaSpawn = setup.concurrencies.map((c) => rowOf(c, contenders[0]?.name ?? '')?.spawnMsPerMessage ?? Number.NaN)
  lines.push(
    `spawn() blocks ${(harakaSpawn.reduce((a, b) => a + b, 0) / harakaSpawn.length).toFixed(3)} ms in Haraka (RSS ${megabytes(harakaRss)}), ` +
      `${setup.smallParent.meanMs.toFixed(3)} ms in a bare Node (RSS ${megabytes(setup.smallParent.rssBytes)})`,
  )

  lines.push('')
  const growth = new Map(memory.map((figure) => [figure.mode, figure.peakBytes - figure.beforeBytes]))
  lines.push(
    `one ${setup.largeMegabytes} MB message, Haraka peak RSS: ` +
      memory
        .map((figure) => `${figure.mode} ${megabytes(figure.peakBytes)} (+${megabytes(figure.peakBytes - figure.beforeBytes)} over ${megabytes(figure.beforeBytes)}${figure.peakSinceStart ? ', peak since start' : ''})`)
        .join(', '),
  )
  for (const figure of memory) {
    if (figure.helperGrowthBytes === undefined) continue
    const copies = figure.helperGrowthBytes / (setup.largeMegabytes * MB)
    lines.push(
      `${figure.mode}, spawn helpers: peak RSS +${megabytes(figure.helperGrowthBytes)} at most = ${copies.toFixed(2)} copies of the message (goal: far below 1): ${copies < 0.5 ? 'met' : 'NOT met'}`,
    )
  }
  for (const mode of contenders) {
    const extra = (growth.get(mode.name) ?? Number.NaN) - (growth.get(DISCARD) ?? Number.NaN)
    const copies = extra / (setup.largeMegabytes * MB)
    lines.push(
      `${mode.name} - ${DISCARD}: ${extra >= 0 ? '+' : ''}${megabytes(extra)} = ${copies.toFixed(2)} extra copies of the message (goal <= 1): ${copies <= 1 ? 'met' : 'NOT met'}`,
    )
  }
  return `${lines.join('\n')}\n`
}
