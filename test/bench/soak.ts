// npm run soak: many messages over many connections to a program that, per message at random,
// delivers, fails temporarily or permanently, kills itself, or hangs past its timeout with a
// child. Some clients hang up right after the final dot. Then it checks that no reply lied, that
// no process is left, and that Haraka is alive with a flat RSS, and prints one summary line.
// The short run in soak.test.ts asserts the same.
import { randomBytes, randomInt } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Haraka } from '../e2e/harness.js'
import { Scratch, crlf } from '../e2e/fixtures.js'
import { rssBytes } from '../e2e/processes.js'
import { sendMail } from '../e2e/smtp.js'
import { sendAndDrop } from './drop-after-dot.js'
import { judge, lastLineOf, parseLog, rssGrowthLimit, type Sent, type Verdicts } from './soak-checks.js'
import { TEMP_STATUS, writeSoakProgram } from './soak-program.js'
import { isServing, killLeftovers, waitForNoProcesses } from './soak-leftovers.js'

export interface SoakOptions {
  readonly messages: number
  /** Clients sending at once; each message has a connection of its own. */
  readonly concurrency: number
  /** Share of clients that hang up right after the final dot. */
  readonly dropRate: number
}

export interface SoakSummary extends Verdicts {
  readonly sent: number
  readonly dropped: number
  readonly seconds: number
  /** Pids still carrying the soak's marker once every reply is in and the kill grace is over. */
  readonly leftover: readonly number[]
  readonly harakaAlive: boolean
  readonly rssFirstBytes: number
  readonly rssLastBytes: number
  readonly rssFlat: boolean
  readonly line: string
}

const DOMAIN = 'soak.test'
const TIMEOUT_SECONDS = 2
const MARKER_VARIABLE = 'SOAK_RUN'
/** A stubborn program lives for its timeout plus the plugin's 2 s kill grace. */
const LEFTOVER_PATIENCE_MS = (TIMEOUT_SECONDS + 2 + 6) * 1000
const RSS_SAMPLE_MS = 200
/**
 * Haraka's young generation pinned at Node 20's default size (two 16 MB semi-spaces). Node 24's V8
 * grows it under load to 64 MB and more, which adds tens of MB of RSS that it gives back when
 * idle (live objects after a full GC stay at about 20 MB either way); unpinned, that growth would
 * pass for a leak on Node 24 and not on Node 20.
 */
const HARAKA_NODE_OPTIONS = '--max-semi-space-size=16'

/** A message whose last line names it; mostly small, now and then larger than a pipe's buffer. */
function soakMessage(seq: number): { text: string; lfBytes: number } {
  const bodyLines = randomInt(100) < 5 ? randomInt(1000, 2500) : randomInt(2, 100)
  const lines = [
    'From: <soak@client.test>',
    `To: <rcpt@${DOMAIN}>`,
    `Subject: soak ${seq}`,
    '',
    ...Array.from({ length: bodyLines }, (_, i) => `${seq} line ${i} ${randomBytes(24).toString('hex')}`),
    lastLineOf(seq),
  ]
  const text = crlf(lines)
  return { text, lfBytes: Buffer.byteLength(text) - lines.length }
}

async function sendOne(port: number, seq: number, drop: boolean): Promise<Sent> {
  const { text, lfBytes } = soakMessage(seq)
  try {
    if (drop) {
      await sendAndDrop(port, 'soak@client.test', `rcpt@${DOMAIN}`, text)
      return { seq, lfBytes, dropped: true }
    }
    const { reply } = await sendMail(port, { from: 'soak@client.test', to: [`rcpt@${DOMAIN}`], message: text })
    return reply
      ? { seq, lfBytes, dropped: false, reply }
      : { seq, lfBytes, dropped: false, error: 'recipient refused' }
  } catch (err) {
    return { seq, lfBytes, dropped: drop, error: err instanceof Error ? err.message : String(err) }
  }
}

const median = (values: readonly number[]): number =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? Number.NaN
const MB = 1024 * 1024

export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const work = new Scratch()
  const marker = randomBytes(8).toString('hex')
  const log = work.path('soak.log')
  const haraka = await Haraka.start({
    hostList: [DOMAIN],
    env: { NODE_OPTIONS: HARAKA_NODE_OPTIONS },
    config: { 'log.ini': '[main]\nlevel=warn\nformat=default' },
    ini: `
[soak]
program_name = ${writeSoakProgram(work.dir)}
domain = ${DOMAIN}
timeout = ${TIMEOUT_SECONDS}
max_concurrency = ${options.concurrency * 4}
; Every reply is checked against what the program did; an open circuit breaker would answer
; some at RCPT instead, without a run (circuit-breaker.test.ts tests that).
circuit_breaker = false

[soak.env]
${MARKER_VARIABLE} = ${marker}
SOAK_LOG = ${log}

[soak.code]
${TEMP_STATUS} = 451 4.3.0 soak program asks to try again later
`,
  })
  const leftoverToEnd: number[] = []
  try {
    const rss: number[] = []
    const sent: Sent[] = []
    // RSS is judged from when a quarter of the messages is answered: a fresh Haraka's V8 heap
    // grows for its first few thousand deliveries (by about 40 MB in a bare Node running the
    // same deliveries, whichever way programs start) before it settles.
    const warmUp = options.messages / 4
    const sampler = setInterval(() => sent.length >= warmUp && rss.push(rssBytes(haraka.pid)), RSS_SAMPLE_MS)
    const started = Date.now()
    let next = 0
    const client = async (): Promise<void> => {
      while (next < options.messages) {
        const seq = next++
        sent.push(await sendOne(haraka.port, seq, Math.random() < options.dropRate))
      }
    }
    await Promise.all(Array.from({ length: options.concurrency }, client))
    clearInterval(sampler)
    const seconds = (Date.now() - started) / 1000

    // Programs of dropped connections may still run; the log is complete once none is left.
    const leftover = await waitForNoProcesses(MARKER_VARIABLE, marker, LEFTOVER_PATIENCE_MS)
    leftoverToEnd.push(...leftover)
    const harakaAlive = haraka.running && (await isServing(haraka.port))
    const verdicts = judge(sent, parseLog(readFileSync(log, 'utf8')))
    const third = Math.max(1, Math.floor(rss.length / 3))
    const rssFirstBytes = median(rss.slice(0, third))
    const rssLastBytes = median(rss.slice(-third))
    const rssFlat = rssLastBytes - rssFirstBytes <= rssGrowthLimit(rssFirstBytes)
    const dropped = sent.filter((message) => message.dropped).length
    const summary = {
      ...verdicts,
      sent: sent.length,
      dropped,
      seconds,
      leftover,
      harakaAlive,
      rssFirstBytes,
      rssLastBytes,
      rssFlat,
    }
    return { ...summary, line: summaryLine(summary) }
  } finally {
    killLeftovers(leftoverToEnd)
    await haraka.stop()
    work.remove()
  }
}

function passed(summary: Omit<SoakSummary, 'line'>): boolean {
  return (
    summary.acceptedWithoutDelivery.length === 0 &&
    summary.deliveredButFailed.length === 0 &&
    summary.mismatched.length === 0 &&
    summary.duplicated.length === 0 &&
    summary.unaccounted === 0 &&
    summary.clientErrors.length === 0 &&
    summary.leftover.length === 0 &&
    summary.harakaAlive &&
    summary.rssFlat
  )
}

function summaryLine(summary: Omit<SoakSummary, 'line'>): string {
  const actions = Object.entries(summary.actions)
    .map(([action, count]) => `${action} ${count}`)
    .join(', ')
  const growthLimit = rssGrowthLimit(summary.rssFirstBytes)
  return (
    `soak ${passed(summary) ? 'PASS' : 'FAIL'}: ${summary.sent} messages in ${summary.seconds.toFixed(0)} s, ${summary.dropped} dropped after the dot; ` +
    `program did ${actions} | 250 without full read + exit 0: ${summary.acceptedWithoutDelivery.length} | ` +
    `exit 0 answered as failure: ${summary.deliveredButFailed.length} | other wrong replies: ${summary.mismatched.length} | ` +
    `delivered twice: ${summary.duplicated.length} | unaccounted runs: ${summary.unaccounted} | client errors: ${summary.clientErrors.length} | ` +
    `processes left: ${summary.leftover.length} | Haraka alive: ${summary.harakaAlive ? 'yes' : 'NO'} | ` +
    `RSS ${(summary.rssFirstBytes / MB).toFixed(0)} -> ${(summary.rssLastBytes / MB).toFixed(0)} MB ` +
    `(median of first vs last third, limit +${(growthLimit / MB).toFixed(0)} MB): ${summary.rssFlat ? 'flat' : 'GREW'}`
  )
}

if (require.main === module) {
  const count = Number(process.argv.find((arg) => arg.startsWith('--messages='))?.slice('--messages='.length) ?? 3000)
  runSoak({ messages: count, concurrency: 32, dropRate: 0.1 })
    .then((summary) => {
      for (const problem of [
        ...summary.acceptedWithoutDelivery,
        ...summary.deliveredButFailed,
        ...summary.mismatched,
        ...summary.clientErrors,
      ]) {
        process.stderr.write(`${problem}\n`)
      }
      process.stdout.write(`${summary.line}\n`)
      if (!passed(summary)) process.exitCode = 1
    })
    .catch((err: unknown) => {
      process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exitCode = 1
    })
}
