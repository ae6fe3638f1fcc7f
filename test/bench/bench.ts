// npm run bench: pipe_transport against Haraka's own queue/qmail-queue (same program) and
// queue/discard (no program, Haraka's ceiling), over loopback with a real SMTP client, and the
// machine's own limit for starting that program (spawn-limit.ts). Runs of the modes alternate, so
// drift of the machine hits each alike. It only prints; goals are judged by the reader, never by
// a test.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Haraka, freePort } from '../e2e/harness.js'
import { Scratch } from '../e2e/fixtures.js'
import { guardianOf, journalProcessOf, rssBytes } from '../e2e/processes.js'
import { sendMail } from '../e2e/smtp.js'
import { formatReport, type Cell, type CpuUse, type MemoryFigure, type Setup } from './bench-report.js'
import { buildDrainProgram } from './drain-program.js'
import { runLoad } from './load.js'
import { NoopProbe } from './noop-probe.js'
import { benchMail, largeMail, nthBenchMail } from './messages.js'
import { BENCH_DOMAIN, MODES, type Mode } from './modes.js'
import { RedisServer } from '../journal/redis-server.js'
import { formatTableFigures, measureRouteTables } from './route-tables.js'
import { formatTransactionFigures, measureTransactions } from './transactions.js'
import { machineCpuMs, mainThreadCpuMs, peakRssBytes, processCpuMs, resetPeakRss } from './proc-stats.js'
import { buildSpawnLimit, measureSpawnLimit } from './spawn-limit.js'
import { STATS_FILE_VARIABLE, WRITE_INTERVAL_MS, type SpawnStats } from './spawn-timer.js'

const NO_PIPELINING = 'bench_no_pipelining'

interface Options {
  readonly messages: number
  readonly rounds: number
  readonly concurrencies: readonly number[]
  readonly largeMegabytes: number
  /** The modes to run (all by default): a few of them, to compare those quickly. */
  readonly modes: readonly Mode[]
}

/** The connections at which the machine's limit is measured and the goal is judged. */
const GOAL_CONCURRENCY = 8

/** `--messages=N` per run, `--rounds=N` alternations, `--concurrency=1,8,32`, `--large-mb=20`, `--modes=a,a0,b`. */
function parseOptions(argv: readonly string[]): Options {
  const value = (name: string, fallback: string): string =>
    argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
  const positive = (text: string): number => {
    const number = Number(text)
    if (!Number.isInteger(number) || number < 1) throw new Error(`not a positive whole number: ${text}`)
    return number
  }
  return {
    messages: positive(value('messages', '1000')),
    rounds: positive(value('rounds', '5')),
    concurrencies: value('concurrency', '1,8,32').split(',').map(positive),
    largeMegabytes: positive(value('large-mb', '20')),
    modes: value('modes', MODES.map((mode) => mode.name).join(','))
      .split(',')
      .map((name) => {
        const mode = MODES.find((each) => each.name === name)
        if (!mode) throw new Error(`no mode ${name}: ${MODES.map((each) => each.name).join(', ')}`)
        return mode
      }),
  }
}

interface Running {
  readonly mode: Mode
  readonly haraka: Haraka
  readonly statsFile: string
}

function readSpawnStats(file: string): SpawnStats {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SpawnStats
  } catch {
    return { spawns: 0, blockedMs: 0 }
  }
}

/** CPU time so far of everything that takes part in a run. */
function cpuSnapshot(haraka: number): CpuUse {
  const harakaCpu = processCpuMs(haraka)
  const guardian = guardianOf(haraka)
  const journal = journalProcessOf(haraka)
  const client = process.cpuUsage()
  const machine = machineCpuMs()
  return {
    harakaMs: harakaCpu.selfMs,
    guardianMs: guardian === undefined ? 0 : processCpuMs(guardian).selfMs,
    journalMs: journal === undefined ? 0 : processCpuMs(journal).selfMs,
    // A program's CPU time is added to its parent's children time once the parent reaps it.
    programsMs: harakaCpu.childrenMs,
    clientMs: (client.user + client.system) / 1000,
    machineBusyMs: machine.busyMs,
  }
}

function cpuSince(before: CpuUse, after: CpuUse): CpuUse {
  const since = (pick: (use: CpuUse) => number): number => pick(after) - pick(before)
  return {
    harakaMs: since((use) => use.harakaMs),
    guardianMs: since((use) => use.guardianMs),
    journalMs: since((use) => use.journalMs),
    programsMs: since((use) => use.programsMs),
    clientMs: since((use) => use.clientMs),
    machineBusyMs: since((use) => use.machineBusyMs),
  }
}

/** Every message of the bench differs (as real mail does), so that a delivery journal runs each. */
let sent = 0
const nextMail = (): ReturnType<typeof nthBenchMail> => nthBenchMail(sent++)

/** One timed run of one mode, with the spawn() and CPU time it cost. */
async function measure(running: Running, messages: number, concurrency: number): Promise<Cell> {
  // Let the previous run's programs end and the spawn timer write its counters.
  await sleep(3 * WRITE_INTERVAL_MS)
  const spawnBefore = readSpawnStats(running.statsFile)
  const mainBefore = mainThreadCpuMs(running.haraka.pid)
  const cpuBefore = cpuSnapshot(running.haraka.pid)
  const probe = await NoopProbe.start(running.haraka.port)
  const load = await runLoad(running.haraka.port, nextMail, messages, concurrency)
  const noopLatenciesMs = await probe.stop()
  await sleep(3 * WRITE_INTERVAL_MS)
  // After the pause: the last programs have been reaped, so their CPU time is counted.
  const cpu = cpuSince(cpuBefore, cpuSnapshot(running.haraka.pid))
  const spawnAfter = readSpawnStats(running.statsFile)
  if (load.failures.length > 0) {
    throw new Error(`${running.mode.label}: ${load.failures.length} message(s) not accepted, e.g. ${load.failures[0]}`)
  }
  return {
    messages,
    elapsedMs: load.elapsedMs,
    latenciesMs: load.latenciesMs,
    noopLatenciesMs,
    spawnBlockedMs: spawnAfter.blockedMs - spawnBefore.blockedMs,
    mainCpuMs: mainThreadCpuMs(running.haraka.pid) - mainBefore,
    cpu,
  }
}

/** Haraka's peak RSS while it takes one large message, against its RSS just before. */
async function measureLargeMessage(running: Running, megabytes: number): Promise<MemoryFigure> {
  const pid = running.haraka.pid
  await sleep(500)
  const before = rssBytes(pid)
  const reset = resetPeakRss(pid)
  const { reply } = await sendMail(running.haraka.port, largeMail(megabytes))
  if (reply?.code !== 250) throw new Error(`${running.mode.label}: the large message got ${reply?.code} ${reply?.text}`)
  return {
    mode: running.mode.name,
    beforeBytes: before,
    peakBytes: peakRssBytes(pid),
    peakSinceStart: !reset,
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const work = new Scratch()
  const drain = buildDrainProgram(work.dir)
  // The modes that run the program as nobody need to reach it.
  if (process.getuid?.() === 0) chmodSync(work.dir, 0o755)
  const limitLoop = buildSpawnLimit(work.dir)
  const messageFile = work.path('message.eml')
  writeFileSync(messageFile, benchMail.message)
  const limits: number[] = []
  const running: Running[] = []
  const redis = await RedisServer.start()
  try {
    for (const mode of options.modes) {
      const statsFile = work.path(`spawn-stats-${mode.name}.json`)
      const config = mode.haraka({
        drain: drain.path,
        work: work.dir,
        redisUrl: redis.url,
        metricsPort: await freePort(),
      })
      const haraka = await Haraka.start({
        ...config,
        plugins: [NO_PIPELINING, ...(config.plugins ?? [])],
        extraPlugins: { [NO_PIPELINING]: join(__dirname, 'no-pipelining-plugin.js') },
        hostList: [BENCH_DOMAIN],
        // Logging costs every mode alike; at warn it does not blur the difference between them.
        config: { 'log.ini': '[main]\nlevel=warn\nformat=default', ...config.config },
        env: {
          ...config.env,
          NODE_OPTIONS: `--require ${join(__dirname, 'spawn-timer.js')}`,
          [STATS_FILE_VARIABLE]: statsFile,
        },
      })
      running.push({ mode, haraka, statsFile })
    }
    process.stderr.write(`bench: warming up ${running.length} Harakas\n`)
    for (const each of running) await runLoad(each.haraka.port, nextMail, 200, 8)

    const cells = new Map<string, Cell[]>()
    for (const concurrency of options.concurrencies) {
      for (let round = 0; round < options.rounds; round++) {
        // Rotate the order each round so that no mode always runs right after another.
        const here = running.filter((each) => each.mode.concurrencies?.includes(concurrency) ?? true)
        const order = here.map((_, i) => here[(i + round) % here.length]).filter((each) => each !== undefined)
        for (const each of order) {
          process.stderr.write(
            `bench: concurrency ${concurrency}, round ${round + 1}/${options.rounds}, ${each.mode.label}\n`,
          )
          const key = `${concurrency} ${each.mode.name}`
          cells.set(key, [...(cells.get(key) ?? []), await measure(each, options.messages, concurrency)])
        }
        if (concurrency === GOAL_CONCURRENCY && limitLoop) {
          process.stderr.write(`bench: round ${round + 1}/${options.rounds}, the C posix_spawn loop\n`)
          limits.push(measureSpawnLimit(limitLoop, drain.path, messageFile, 4 * options.messages, GOAL_CONCURRENCY))
        }
      }
    }

    const memory: MemoryFigure[] = []
    for (const each of running) memory.push(await measureLargeMessage(each, options.largeMegabytes))
    const setup: Setup = {
      drainKind: drain.kind,
      harakaVersion: (JSON.parse(readFileSync(require.resolve('haraka/package.json'), 'utf8')) as { version: string })
        .version,
      spawnLimits: limits,
      goalConcurrency: GOAL_CONCURRENCY,
      ...options,
    }
    process.stdout.write(formatReport(setup, cells, memory))
    process.stderr.write('bench: whole transactions of 1, 3 and 10 recipients\n')
    process.stdout.write(`\n${formatTransactionFigures(await measureTransactions(drain.path, work.dir))}`)
    process.stderr.write('bench: the large routing table\n')
    process.stdout.write(`\n${formatTableFigures(await measureRouteTables())}`)
  } finally {
    for (const each of running) await each.haraka.stop()
    await redis.remove()
    work.remove()
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
