// npm run soak-mta: a soak whose clients behave like a sending MTA. Messages of one to three
// recipients over two instances (`one` with recipient_limit = 1, `two` with every recipient of
// the message in one run), some recipients failing temporarily on their first run, some clients
// hanging up right after the final dot; every message is sent again, the same bytes, until it is
// answered 250, with the local delivery journal on. Then it checks that each recipient of each
// message had exactly one successful run, that no 250 came before all of them had one, that no
// process is left and Haraka is alive, and prints one summary line. mta-soak.test.ts runs it short.
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { Haraka } from '../e2e/harness.js'
import { Scratch, crlf } from '../e2e/fixtures.js'
import { sendMail } from '../e2e/smtp.js'
import { sendAndDrop } from './drop-after-dot.js'
import { judgeMta, RunLog, type Attempt, type Message, type MtaVerdicts } from './mta-soak-checks.js'
import { MTA_TEMP_STATUS, MTA_TEMP_TEXT, mtaLastLine, mtaRecipient, writeMtaSoakProgram } from './mta-soak-program.js'
import { isServing, killLeftovers, waitForNoProcesses } from './soak-leftovers.js'

export interface MtaSoakOptions {
  readonly messages: number
  /** Messages in flight at once; each attempt has a connection of its own. */
  readonly concurrency: number
  /** Share of attempts whose client hangs up right after the final dot. */
  readonly dropRate: number
  /** Share of recipients whose first run fails temporarily. */
  readonly failOnceRate: number
}

export interface MtaSoakSummary extends MtaVerdicts {
  readonly messages: number
  readonly seconds: number
  /** Pids still carrying the soak's marker once every message is done. */
  readonly leftover: readonly number[]
  readonly harakaAlive: boolean
  readonly passed: boolean
  readonly line: string
}

const DOMAINS = ['one.test', 'two.test'] as const
const SENDER = 'mta@client.test'
const MARKER_VARIABLE = 'MTA_SOAK_RUN'
const TIMEOUT_SECONDS = 10
/** A sending MTA gives up some day; this one long before, as no attempt here should fail twice. */
const MAX_ATTEMPTS = 30
/** A run lives for at most its timeout plus the plugin's 2 s kill grace. */
const LEFTOVER_PATIENCE_MS = (TIMEOUT_SECONDS + 2 + 6) * 1000

/**
 * Mostly small; one in 50 is over 1 MB, which a transaction of several runs reads from a copy in a
 * file instead of memory (transaction/message-source.ts).
 */
function bodyLines(): number {
  return randomInt(100) < 2 ? randomInt(18_000, 25_000) : randomInt(2, 60)
}

/** A message to one to three recipients, its bytes fixed: every retry sends exactly these. */
function plannedMessage(seq: number, failOnceRate: number): { recipients: string[]; text: string; lfBytes: number } {
  const recipients = Array.from({ length: randomInt(1, 4) }, (_, index) =>
    mtaRecipient(seq, index, Math.random() < failOnceRate, DOMAINS[randomInt(DOMAINS.length)] ?? 'one.test'),
  )
  const lines = [
    `From: <${SENDER}>`,
    `To: ${recipients.map((rcpt) => `<${rcpt}>`).join(', ')}`,
    `Subject: mta soak ${seq}`,
    `Message-ID: <${seq}.${randomBytes(6).toString('hex')}@client.test>`,
    '',
    ...Array.from({ length: bodyLines() }, (_, i) => `${seq} line ${i} ${randomBytes(24).toString('hex')}`),
    mtaLastLine(seq),
  ]
  const text = crlf(lines)
  return { recipients, text, lfBytes: Buffer.byteLength(text) - lines.length }
}

/** Sends one message as a sending MTA does: again after every 4xx or lost reply, until 250. */
async function deliverLikeAnMta(port: number, seq: number, options: MtaSoakOptions, log: RunLog): Promise<Message> {
  const { recipients, text, lfBytes } = plannedMessage(seq, options.failOnceRate)
  const attempts: Attempt[] = []
  const done = (error?: string): Message => ({
    seq,
    recipients,
    lfBytes,
    attempts,
    ...(error === undefined ? {} : { error }),
  })
  try {
    while (attempts.length < MAX_ATTEMPTS) {
      if (attempts.length > 0) await sleep(randomInt(0, 100))
      if (Math.random() < options.dropRate) {
        await sendAndDrop(port, SENDER, recipients, text)
        attempts.push({ kind: 'dropped' })
        continue
      }
      const { reply, refused } = await sendMail(port, { from: SENDER, to: recipients, message: text })
      if (refused.size > 0)
        return done(`refused at RCPT: ${[...refused].map(([rcpt, r]) => `${rcpt} ${r.code} ${r.text}`).join('; ')}`)
      if (!reply) return done('no reply to the final dot')
      if (reply.code !== 250) {
        attempts.push({ kind: 'reply', reply, undelivered: [] })
        if (reply.code >= 500) return done(`permanent failure "${reply.code} ${reply.text}"`)
        continue
      }
      // The program logs a run before it exits, and the plugin answers after: all must be there.
      log.refresh()
      attempts.push({ kind: 'reply', reply, undelivered: recipients.filter((rcpt) => log.successes(rcpt) === 0) })
      return done()
    }
    return done(`no 250 after ${MAX_ATTEMPTS} attempts`)
  } catch (err) {
    return done(err instanceof Error ? err.message : String(err))
  }
}

export async function runMtaSoak(options: MtaSoakOptions): Promise<MtaSoakSummary> {
  const work = new Scratch()
  const marker = randomBytes(8).toString('hex')
  const logPath = work.path('runs.log')
  const marks = work.path('marks')
  mkdirSync(marks)
  const haraka = await Haraka.start({
    hostList: [...DOMAINS],
    config: { 'log.ini': '[main]\nlevel=warn\nformat=default' },
    ini: `
[main]
program_name = ${writeMtaSoakProgram(work.dir)}
arguments = \${recipient}
timeout = ${TIMEOUT_SECONDS}
journal = local
journal_directory = ${work.path('journal')}
; Postfix must deliver every message within the soak: an open circuit breaker would have it
; defer recipients at RCPT for minutes (circuit-breaker.test.ts tests the breaker).
circuit_breaker = false

[main.code]
${MTA_TEMP_STATUS} = 451 ${MTA_TEMP_TEXT}

[main.env]
${MARKER_VARIABLE} = ${marker}
MTA_SOAK_LOG = ${logPath}
MTA_SOAK_MARKS = ${marks}

[one]
domain = one.test
recipient_limit = 1
max_concurrency = ${options.concurrency * 3}

[two]
domain = two.test
max_concurrency = ${options.concurrency * 3}
`,
  })
  const leftoverToEnd: number[] = []
  try {
    const log = new RunLog(logPath)
    const started = Date.now()
    const messages: Message[] = []
    let next = 0
    const client = async (): Promise<void> => {
      while (next < options.messages) messages.push(await deliverLikeAnMta(haraka.port, next++, options, log))
    }
    await Promise.all(Array.from({ length: options.concurrency }, client))
    const seconds = (Date.now() - started) / 1000

    // Runs of a last dropped attempt may still go; the log is complete once none is left.
    const leftover = await waitForNoProcesses(MARKER_VARIABLE, marker, LEFTOVER_PATIENCE_MS)
    leftoverToEnd.push(...leftover)
    const harakaAlive = haraka.running && (await isServing(haraka.port))
    log.refresh()
    const verdicts = judgeMta(messages, log.runs)
    const summary = { ...verdicts, messages: messages.length, seconds, leftover, harakaAlive }
    const passed = hasPassed(summary)
    return { ...summary, passed, line: summaryLine(summary, passed) }
  } finally {
    killLeftovers(leftoverToEnd)
    await haraka.stop()
    work.remove()
  }
}

type Unjudged = Omit<MtaSoakSummary, 'passed' | 'line'>

function hasPassed(summary: Unjudged): boolean {
  return (
    [
      summary.neverDelivered,
      summary.deliveredTwice,
      summary.acceptedEarly,
      summary.incompleteReads,
      summary.wrongRuns,
      summary.strangers,
      summary.wrongReplies,
      summary.clientErrors,
      summary.leftover,
    ].every((problems) => problems.length === 0) && summary.harakaAlive
  )
}

function summaryLine(summary: Unjudged, passed: boolean): string {
  const { counts } = summary
  const once = summary.recipients - summary.neverDelivered.length - summary.deliveredTwice.length
  return (
    `mta soak ${passed ? 'PASS' : 'FAIL'}: ${summary.messages} messages to ${summary.recipients} recipients in ${summary.seconds.toFixed(0)} s, ` +
    `${counts.attempts} attempts (${counts.dropped} dropped after the dot, ${counts.tempReplies} answered 450 by a failed run, ` +
    `${counts.stillRunning} 450 still running, ${counts.alreadyDelivered} 250 already delivered); program runs: ${counts.okRuns} ok, ${counts.tempRuns} temp | ` +
    `recipients delivered exactly once: ${once}/${summary.recipients} | never: ${summary.neverDelivered.length} | twice or more: ${summary.deliveredTwice.length} | ` +
    `250 before all delivered: ${summary.acceptedEarly.length} | incomplete reads: ${summary.incompleteReads.length} | ` +
    `wrong runs: ${summary.wrongRuns.length + summary.strangers.length} | wrong replies: ${summary.wrongReplies.length} | client errors: ${summary.clientErrors.length} | ` +
    `processes left: ${summary.leftover.length} | Haraka alive: ${summary.harakaAlive ? 'yes' : 'NO'}`
  )
}

if (require.main === module) {
  const count = Number(process.argv.find((arg) => arg.startsWith('--messages='))?.slice('--messages='.length) ?? 3000)
  runMtaSoak({ messages: count, concurrency: 24, dropRate: 0.1, failOnceRate: 0.2 })
    .then((summary) => {
      const problems = [
        ...summary.neverDelivered,
        ...summary.deliveredTwice,
        ...summary.acceptedEarly,
        ...summary.incompleteReads,
        ...summary.wrongRuns,
        ...summary.strangers,
        ...summary.wrongReplies,
        ...summary.clientErrors,
      ]
      for (const problem of problems) process.stderr.write(`${problem}\n`)
      process.stdout.write(`${summary.line}\n`)
      if (!summary.passed) process.exitCode = 1
    })
    .catch((err: unknown) => {
      process.stderr.write(`mta soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exitCode = 1
    })
}
