// A real Postfix (Debian's package) as the sending MTA. Before whole transactions, Postfix
// held every recipient answered 452 at RCPT in its deferred queue for 5 to 15 minutes; now one
// message to three recipients on two routes must be delivered in full within seconds, each
// recipient once, and Postfix's own log must say so. And when Haraka's reply after the dot is lost,
// or one recipient fails temporarily, Postfix sends the whole message again, and the delivery
// journal runs only the recipients not yet delivered. When one recipient fails for good, Postfix
// is told 250 and the sender gets one DSN naming that recipient (Haraka's outbound sends it to a
// sink on loopback), also when Postfix sends the message again after a lost reply.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { pidsWithEnvironment } from '../bench/proc-stats.js'
import { parseDsn } from './dsn-report.js'
import { Haraka, type HarakaOptions } from './harness.js'
import { Scratch } from './fixtures.js'
import { POSTFIX, PrivatePostfix } from './postfix-instance.js'
import { SmtpSink, mxPlugin } from './smtp-sink.js'

if (!existsSync(POSTFIX)) throw new Error(`missing ${POSTFIX}: install Debian's postfix (.ci/run does)`)

const RECIPIENTS = ['a@one.test', 'b@one.test', 'c@two.test']
/** Far beyond seconds, far below Postfix's first deferred-queue retry (minimal_backoff_time, 300 s). */
const DELIVERY_BOUND_MS = 60_000

/** One program run as the recorder saw it. */
interface Run {
  /**
   * `ok` (exit 0), `temp` (exit 75, the first run of b@one.test for a message that asks for it) or
   * `gone` (exit 67, c@two.test for a message that asks for it).
   */
  readonly outcome: 'ok' | 'temp' | 'gone'
  readonly instance: string
  readonly recipients: string[]
  readonly subject: string
  /** The message's last line arrived: the program read it all. */
  readonly complete: boolean
}

/** The Subject that makes the first run of b@one.test fail temporarily (exit 75, mapped to 4xx). */
const FAIL_B_ONCE = 'b fails once'
/** A Subject that starts so makes every run of c@two.test fail for good (exit 67, mapped to 5xx). */
const C_IS_GONE = 'c is gone'

/**
 * Appends each run (outcome, instance, recipients, Subject, whether it read the whole message) to
 * runs.jsonl. A message with the Subject FAIL_B_ONCE fails its first run for b@one.test.
 */
function recorder(work: Scratch): string {
  const fs = (name: string): string => JSON.stringify(work.path(name))
  return work.node(
    'record',
    `const fs = require('fs')
const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('latin1')
  const subject = (/^Subject: (.*)$/m.exec(input) || [])[1]
  const recipients = process.argv.slice(2)
  let outcome = 'ok'
  if (subject === ${JSON.stringify(FAIL_B_ONCE)} && recipients.includes('b@one.test') && !fs.existsSync(${fs('b-failed')})) {
    fs.writeFileSync(${fs('b-failed')}, '')
    outcome = 'temp'
  }
  if (subject.startsWith(${JSON.stringify(C_IS_GONE)}) && recipients.includes('c@two.test')) {
    outcome = 'gone'
    process.stderr.write('mailbox c@two.test is gone\\n')
  }
  const run = { outcome, instance: process.env.INSTANCE, recipients, subject, complete: input.endsWith('\\nlast line\\n') }
  fs.appendFileSync(${fs('runs.jsonl')}, JSON.stringify(run) + '\\n')
  process.exitCode = { ok: 0, temp: 75, gone: 67 }[outcome]
})`,
  )
}

function runsOf(work: Scratch, subject: string): Run[] {
  return work
    .takeLines('runs.jsonl')
    .map((line) => JSON.parse(line) as Run)
    .filter((run) => run.subject === subject)
}

/**
 * Two routes, `one` a run per recipient (as for dovecot-lda), `two` a run for all; exit 75 is a
 * temporary failure and 67 a permanent one (sysexits), whose reply says what the program said on
 * stderr; the local journal.
 */
function harakaIni(work: Scratch): string {
  return `
[main]
program_name = ${recorder(work)}
arguments = \${recipient}
code_preset = sysexits
reply_text = stderr
journal = local
journal_directory = ${work.path('journal')}

[one]
domain = one.test
recipient_limit = 1

[two]
domain = two.test
`
}

/** Postfix's log lines for one queue id and outcome, by recipient. */
function statusLines(log: string, status: 'sent' | 'deferred'): Map<string, string[]> {
  const lines = new Map<string, string[]>()
  for (const line of log.split('\n')) {
    const match = /postfix\/smtp\[\d+\]: [0-9A-F]+: to=<([^>]+)>.* status=(\w+) /.exec(line)
    if (match?.[2] === status) lines.set(match[1] ?? '', [...(lines.get(match[1] ?? '') ?? []), line])
  }
  return lines
}

/**
 * Injects a message into Postfix and waits until Postfix has logged `status=sent` for every
 * recipient; returns the milliseconds that took and what Postfix logged about this message (found
 * by its queue id, which the cleanup line with the message's own Message-ID gives).
 */
async function sendThroughPostfix(postfix: PrivatePostfix, subject: string): Promise<{ tookMs: number; log: string }> {
  const messageId = `${randomUUID()}@origin.test`
  const since = Date.now()
  await postfix.send('sender@origin.test', RECIPIENTS, message(subject, messageId))
  const deadline = since + DELIVERY_BOUND_MS
  for (;;) {
    const all = postfix.log()
    const queueId = new RegExp(`: ([0-9A-F]+): message-id=<${messageId}>`).exec(all)?.[1]
    const log =
      queueId === undefined
        ? ''
        : all
            .split('\n')
            .filter((line) => line.includes(`: ${queueId}: `))
            .join('\n')
    const sent = statusLines(log, 'sent')
    if (RECIPIENTS.every((rcpt) => sent.has(rcpt))) return { tookMs: Date.now() - since, log }
    if (Date.now() > deadline) throw new Error(`not delivered within ${DELIVERY_BOUND_MS} ms; Postfix logged:\n${all}`)
    await sleep(100)
  }
}

function message(subject: string, messageId: string): string {
  const headers = [
    'From: <sender@origin.test>',
    'To: <a@one.test>, <b@one.test>, <c@two.test>',
    `Subject: ${subject}`,
    `Message-ID: <${messageId}>`,
  ]
  return [...headers, '', 'body', 'last line', ''].join('\n')
}

const described = (runs: readonly Run[]): string[] =>
  runs.map((run) => `${run.outcome} ${run.instance} ${run.recipients.join(' ')}`)

/** Each recipient in exactly one successful run, that run complete; `one` runs hold one recipient each. */
function assertEachOnce(runs: readonly Run[]): void {
  assert.deepEqual(described(runs.filter((run) => run.outcome === 'ok')).sort(), [
    'ok one a@one.test',
    'ok one b@one.test',
    'ok two c@two.test',
  ])
  assert.ok(
    runs.every((run) => run.complete),
    'every run read the whole message',
  )
}

const NEEDS_ROOT = { skip: process.getuid?.() === 0 ? false : "Postfix's master daemon starts as root: needs root" }

/** Every recipient has exactly one line of this status for the message, matching `pattern`. */
function assertOneLineEach(log: string, status: 'sent' | 'deferred', pattern: RegExp): void {
  const lines = statusLines(log, status)
  for (const rcpt of RECIPIENTS) {
    assert.equal(lines.get(rcpt)?.length, 1, `one status=${status} for ${rcpt}:\n${log}`)
    assert.match(lines.get(rcpt)?.[0] ?? '', pattern)
  }
}

interface Setup {
  readonly work: Scratch
  haraka: Haraka
  postfix: PrivatePostfix
  /** Where Haraka's outbound sends the DSNs (to the sender's domain, origin.test). */
  sink: SmtpSink
}

/**
 * Starts a Haraka with the two routes, whose outbound sends everything to a sink, and a private
 * Postfix relaying to it before the suite's tests; after them stops all three, removes everything
 * and checks that no Postfix process is left.
 */
function postfixAndHaraka(
  options: {
    readonly haraka?: (work: Scratch) => Partial<HarakaOptions>
    readonly postfixMain?: Record<string, string>
  } = {},
): Setup {
  const setup = { work: new Scratch() } as Setup
  before(async () => {
    setup.sink = await SmtpSink.start()
    const haraka = options.haraka?.(setup.work) ?? {}
    setup.haraka = await Haraka.start({
      hostList: ['one.test', 'two.test'],
      ini: harakaIni(setup.work),
      ...haraka,
      plugins: [...(haraka.plugins ?? ['rcpt_to.in_host_list', 'pipe_transport']), 'sink_mx'],
      extraPlugins: { ...haraka.extraPlugins, sink_mx: setup.work.file('sink_mx.js', mxPlugin(setup.sink.port)) },
    })
    setup.postfix = await PrivatePostfix.start({
      relayPort: setup.haraka.port,
      ...(options.postfixMain ? { main: options.postfixMain } : {}),
    })
  })
  after(async () => {
    const configDir = setup.postfix?.configDir
    await setup.postfix?.stop()
    await setup.haraka?.stop()
    await setup.sink?.close()
    setup.work.remove()
    // Every daemon of the instance carries its config directory in MAIL_CONFIG.
    if (configDir) assert.deepEqual(pidsWithEnvironment('MAIL_CONFIG', configDir), [], 'no Postfix process is left')
  })
  return setup
}

describe('a real Postfix as the sending MTA', NEEDS_ROOT, () => {
  const setup = postfixAndHaraka()

  it('delivers one message to three recipients on two routes within seconds, each recipient once', async () => {
    const { tookMs, log } = await sendThroughPostfix(setup.postfix, 'three on two routes')
    process.stderr.write(`postfix-sender: Postfix delivered 3 recipients on 2 routes in ${tookMs} ms\n`)

    assertEachOnce(runsOf(setup.work, 'three on two routes'))
    // Postfix's view: one SMTP transaction took all three (one 250 after the dot), nothing deferred.
    assertOneLineEach(
      log,
      'sent',
      new RegExp(`relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${setup.haraka.port}, .*status=sent \\(250 `),
    )
    const sent = statusLines(log, 'sent')
    assert.equal(
      new Set([...sent.values()].map(([line]) => / status=sent \((.*)\)$/.exec(line ?? '')?.[1])).size,
      1,
      'one reply for all three',
    )
    assert.deepEqual([...statusLines(log, 'deferred').keys()], [], 'Postfix deferred nothing')
    assert.doesNotMatch(log, / 452 4\.5\.3 /)
    assert.deepEqual(await setup.postfix.queue(), [], "Postfix's queue is empty")
  })

  it('one recipient gone for good: Postfix logs status=sent for all three, and the sender gets one DSN naming it', async () => {
    const { log } = await sendThroughPostfix(setup.postfix, C_IS_GONE)
    assertOneLineEach(
      log,
      'sent',
      / status=sent \(250 2\.0\.0 delivered to 2 of 3 recipients; a DSN goes to the sender for c@two\.test \(/,
    )
    assert.deepEqual(described(runsOf(setup.work, C_IS_GONE)).sort(), [
      'gone two c@two.test',
      'ok one a@one.test',
      'ok one b@one.test',
    ])
    const [dsn] = await setup.sink.waitFor(1)
    assert.deepEqual([dsn?.from, dsn?.to], ['', ['sender@origin.test']])
    const report = parseDsn(dsn?.data ?? Buffer.alloc(0))
    assert.deepEqual([report.contentType, report.reportType], ['multipart/report', 'delivery-status'])
    assert.deepEqual(report.recipients, [
      {
        'Final-Recipient': 'rfc822; c@two.test',
        'Original-Recipient': 'rfc822; c@two.test',
        Action: 'failed',
        Status: '5.1.1',
        'Diagnostic-Code': 'smtp; 550 5.1.1 mailbox c@two.test is gone',
      },
    ])
    assert.match(report.returned, new RegExp(`^Subject: ${C_IS_GONE}$`, 'm'))
    assert.deepEqual(await setup.postfix.queue(), [], "Postfix's queue is empty")
  })
})

/**
 * Hangs up on the client once the first transaction with a Subject that ends "reply lost" is
 * delivered, before its 250: once per Subject.
 */
const DROP_FIRST_REPLY = `
const dropped = new Set()
exports.hook_queue_ok = function (next, connection) {
  const subject = connection.transaction.header.get('Subject').trim()
  if (!dropped.has(subject) && subject.endsWith('reply lost')) {
    dropped.add(subject)
    connection.loginfo(this, 'hanging up before the reply')
    connection.client.destroy()
  }
  next()
}
`

describe('a real Postfix that retries within seconds', NEEDS_ROOT, () => {
  const setup = postfixAndHaraka({
    haraka: (work) => ({
      plugins: ['rcpt_to.in_host_list', 'pipe_transport', 'drop_first_reply'],
      extraPlugins: { drop_first_reply: work.file('drop_first_reply.js', DROP_FIRST_REPLY) },
    }),
    // A retry within seconds instead of Postfix's 5 minutes, so the test sees it. Not sooner than
    // 2 s: a deferred-queue scan that meets the file still locked by the smtp process that just
    // deferred it moves it aside for 60 s and more (qmgr: "skipped, still being delivered").
    postfixMain: { queue_run_delay: '1s', minimal_backoff_time: '2s', maximal_backoff_time: '4s' },
  })

  it('Postfix sends the message again and the journal answers 250 without a second run', async () => {
    const { tookMs, log } = await sendThroughPostfix(setup.postfix, 'reply lost')
    process.stderr.write(
      `postfix-sender: with the first reply lost, Postfix had 3 recipients delivered in ${tookMs} ms\n`,
    )

    assert.match(setup.haraka.log, /\[drop_first_reply\] hanging up before the reply/)
    assertEachOnce(runsOf(setup.work, 'reply lost'))
    // First attempt: Postfix knows the message may have arrived, and tries again.
    assertOneLineEach(
      log,
      'deferred',
      /lost connection .* while sending end of data -- message may be sent more than once/,
    )
    // Second attempt: the journal knows all three were delivered.
    assertOneLineEach(log, 'sent', /status=sent \(250 2\.0\.0 already delivered \(pipe_transport delivery journal\) \(/)
    assert.deepEqual(await setup.postfix.queue(), [], "Postfix's queue is empty")
  })

  it('one recipient fails temporarily: Postfix sends the message again and only that recipient runs', async () => {
    const { tookMs, log } = await sendThroughPostfix(setup.postfix, FAIL_B_ONCE)
    process.stderr.write(`postfix-sender: with b failing once, Postfix had 3 recipients delivered in ${tookMs} ms\n`)

    const runs = runsOf(setup.work, FAIL_B_ONCE)
    assertEachOnce(runs)
    // The first attempt runs all three; the second only b, whom the first did not deliver.
    assert.deepEqual(described(runs.slice(0, 3)).sort(), [
      'ok one a@one.test',
      'ok two c@two.test',
      'temp one b@one.test',
    ])
    assert.deepEqual(described(runs.slice(3)), ['ok one b@one.test'])
    // Haraka's one answer to the first attempt defers the whole message, naming b.
    assertOneLineEach(log, 'deferred', /said: 450 4\.\d\.\d .*\(1 of 3 recipients not delivered: b@one\.test\)/)
    assertOneLineEach(log, 'sent', /status=sent \(250 /)
    assert.deepEqual(await setup.postfix.queue(), [], "Postfix's queue is empty")
  })

  it('one recipient gone for good and the reply lost: Postfix sends it again, nothing runs, and no second DSN', async () => {
    const subject = `${C_IS_GONE}, reply lost`
    const { log } = await sendThroughPostfix(setup.postfix, subject)
    assertOneLineEach(log, 'deferred', /lost connection .* while sending end of data/)
    // The journal holds the delivered recipients and the one the DSN reported.
    assertOneLineEach(log, 'sent', /status=sent \(250 2\.0\.0 already delivered \(pipe_transport delivery journal\) \(/)
    assert.deepEqual(described(runsOf(setup.work, subject)).sort(), [
      'gone two c@two.test',
      'ok one a@one.test',
      'ok one b@one.test',
    ])
    const [dsn] = await setup.sink.waitFor(1)
    assert.deepEqual(
      parseDsn(dsn?.data ?? Buffer.alloc(0)).recipients.map((block) => block['Final-Recipient']),
      ['rfc822; c@two.test'],
    )
    await sleep(2000)
    assert.equal(setup.sink.received.length, 1, 'one DSN only')
  })
})
