// A partial failure with partial_failure = bounce (the default): some recipients delivered and the
// others failed for good is answered 250, and the envelope sender gets one DSN through Haraka's
// outbound (pointed at a sink on loopback) naming exactly the failed recipients with the program's
// words; a retry sends no second DSN and runs nothing; the null sender and NOTIFY=NEVER get none;
// RET=FULL, ENVID and ORCPT are honoured where a client sends them; a DSN that cannot be queued
// falls back to today's 550, and so does partial_failure = reject.
import assert from 'node:assert/strict'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { parseDsn } from './dsn-report.js'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { SmtpSink, mxPlugin } from './smtp-sink.js'
import { sendMail, type Mail } from './smtp.js'

/** Lets clients send RFC 3461's parameters, which Haraka itself does not advertise. */
const ADVERTISE_DSN = `exports.hook_capabilities = function (next, connection) {
  connection.capabilities.push('DSN')
  next()
}
`

/**
 * Records each run (its recipient, ENVID and DELIVERY_ID) in runs.jsonl. A recipient whose local
 * part starts with "gone" is unknown (exit 67, saying so on stderr), "later" fails temporarily
 * (exit 75); anyone else is delivered.
 */
function programIn(work: Scratch): string {
  return work.shell(
    'deliver',
    `cat > /dev/null
printf '{"rcpt":"%s","envid":"%s","id":"%s"}\\n' "$1" "$ENVID" "$DELIVERY_ID" >> "${work.path('runs.jsonl')}"
case "$1" in
  gone*) echo "mailbox $1 does not exist" >&2; exit 67 ;;
  later*) exit 75 ;;
esac`,
  )
}

function iniFor(work: Scratch, main = ''): string {
  return `
[main]
program_name = ${programIn(work)}
arguments = \${recipient}
code_preset = sysexits
reply_text = stderr
journal = local
journal_directory = ${work.path('journal')}
${main}

[one]
domain = one.test
recipient_limit = 1
`
}

let seq = 0
/** A message no other test sends. */
function freshMessage(subject: string): string {
  return crlf([
    'From: <s@origin.test>',
    `Subject: ${subject}`,
    `Message-ID: <dsn-${process.pid}-${++seq}@origin.test>`,
    '',
    `body of ${subject}`,
  ])
}

const withoutQueueId = (text: string | undefined): string => (text ?? '').replace(/ \([0-9A-F-]{36}\.\d+\)$/, '')

describe('a DSN after a partial failure (partial_failure = bounce)', () => {
  const work = new Scratch()
  let sink: SmtpSink
  let haraka: Haraka
  /** Sends, and returns the reply and the recipients each run had since the last call. */
  const send = async (mail: Omit<Mail, 'from'> & { from?: string }): Promise<{ reply: string; ran: string[] }> => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', ...mail })
    return { reply: `${reply?.code} ${withoutQueueId(reply?.text)}`, ran: runs().map((run) => run.rcpt) }
  }
  const runs = (): { rcpt: string; envid: string; id: string }[] =>
    work
      .takeLines('runs.jsonl')
      .map((line) => JSON.parse(line) as { rcpt: string; envid: string; id: string })
      .sort((a, b) => a.rcpt.localeCompare(b.rcpt))

  before(async () => {
    sink = await SmtpSink.start()
    haraka = await Haraka.start({
      hostList: ['one.test'],
      plugins: ['advertise_dsn', 'rcpt_to.in_host_list', 'pipe_transport', 'sink_mx'],
      extraPlugins: {
        advertise_dsn: work.file('advertise_dsn.js', ADVERTISE_DSN),
        sink_mx: work.file('sink_mx.js', mxPlugin(sink.port)),
      },
      ini: iniFor(work),
    })
  })

  after(async () => {
    await haraka?.stop()
    await sink?.close()
    work.remove()
  })

  it('answers 250 and sends the sender one DSN naming only the failed recipient, in its own words', async () => {
    const message = freshMessage('partial')
    const { reply: raw } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['a@one.test', 'gone@one.test', 'c@one.test'],
      message,
    })
    const queueId = /\(([0-9A-F-]{36}\.\d+)\)$/.exec(raw?.text ?? '')?.[1]
    assert.equal(
      `${raw?.code} ${withoutQueueId(raw?.text)}`,
      '250 2.0.0 delivered to 2 of 3 recipients; a DSN goes to the sender for gone@one.test',
    )
    assert.deepEqual(
      runs().map((run) => run.rcpt),
      ['a@one.test', 'c@one.test', 'gone@one.test'],
    )

    const [dsn] = await sink.waitFor(1)
    assert.equal(dsn?.from, '', 'a DSN comes from the null sender')
    assert.deepEqual(dsn?.to, ['s@origin.test'])
    const report = parseDsn(dsn?.data ?? Buffer.alloc(0))
    assert.equal(report.contentType, 'multipart/report')
    assert.equal(report.reportType, 'delivery-status')
    assert.deepEqual(report.parts, ['text/plain', 'message/delivery-status', 'text/rfc822-headers'])
    assert.deepEqual(report.headers, {
      From: 'Mail Delivery System <MAILER-DAEMON@haraka.test>',
      To: 's@origin.test',
      Subject: 'Undelivered Mail Returned to Sender',
      'Auto-Submitted': 'auto-replied',
      'In-Reply-To': `<dsn-${process.pid}-${seq}@origin.test>`,
    })
    assert.equal(report.perMessage['Reporting-MTA'], 'dns; haraka.test')
    assert.equal(report.perMessage['X-Haraka-Queue-ID'], queueId)
    assert.match(report.perMessage['Arrival-Date'] ?? '', /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/)
    assert.equal(report.perMessage['Original-Envelope-Id'], undefined)
    assert.deepEqual(report.recipients, [
      {
        'Final-Recipient': 'rfc822; gone@one.test',
        'Original-Recipient': 'rfc822; gone@one.test',
        Action: 'failed',
        Status: '5.1.1',
        'Diagnostic-Code': 'smtp; 550 5.1.1 mailbox gone@one.test does not exist',
      },
    ])
    assert.match(report.explanation, /^<gone@one\.test>: 550 5\.1\.1 mailbox gone@one\.test does not exist$/m)
    assert.match(report.returned, /^Subject: partial$/m)
    assert.doesNotMatch(report.returned, /body of partial/, 'headers only, unless RET=FULL')
    await haraka.waitForLog(
      /\[pipe_transport\] transaction .*reply="250 2\.0\.0 delivered to 2 of 3 .* dsn=gone@one\.test/,
    )

    // The same message again (its 250 lost, say): nothing runs, and no second DSN.
    assert.deepEqual(await send({ to: ['a@one.test', 'gone@one.test', 'c@one.test'], message }), {
      reply: '250 2.0.0 already delivered (pipe_transport delivery journal)',
      ran: [],
    })
    await sleep(1500)
    assert.equal(sink.received.length, 1, 'no second DSN')
  })

  it('sends no DSN to the null sender, and answers 250', async () => {
    const before = sink.received.length
    assert.deepEqual(await send({ from: '', to: ['a@one.test', 'gone@one.test'], message: freshMessage('null') }), {
      reply: '250 2.0.0 delivered to 1 of 2 recipients; no DSN to the null sender, failed for good: gone@one.test',
      ran: ['a@one.test', 'gone@one.test'],
    })
    await haraka.waitForLog(/transaction .*dsn="none \(no DSN to the null sender\)"/)
    await sleep(1500)
    assert.equal(sink.received.length, before)
  })

  it('honours NOTIFY=NEVER', async () => {
    const before = sink.received.length
    const sent = await send({
      to: ['a@one.test', 'gone@one.test'],
      message: freshMessage('never'),
      dsn: { notify: 'NEVER' },
    })
    assert.equal(
      sent.reply,
      '250 2.0.0 delivered to 1 of 2 recipients; NOTIFY asked for no DSN on failure, failed for good: gone@one.test',
    )
    await sleep(1500)
    assert.equal(sink.received.length, before)
  })

  it('returns the whole message for RET=FULL, with ENVID and ORCPT in the report and ENVID for the program', async () => {
    const before = sink.received.length
    const sent = await send({
      to: ['a@one.test', 'gone@one.test'],
      message: freshMessage('full'),
      dsn: { ret: 'FULL', envid: 'QQ314159 a+b', notify: ['FAILURE'], orcpt: 'rfc822;Gone@Origin.test' },
    })
    assert.equal(sent.reply, '250 2.0.0 delivered to 1 of 2 recipients; a DSN goes to the sender for gone@one.test')
    const dsn = (await sink.waitFor(before + 1))[before]
    const report = parseDsn(dsn?.data ?? Buffer.alloc(0))
    assert.deepEqual(report.parts, ['text/plain', 'message/delivery-status', 'message/rfc822'])
    assert.equal(report.perMessage['Original-Envelope-Id'], 'QQ314159 a+b')
    assert.equal(report.recipients.length, 1)
    assert.equal(report.recipients[0]?.['Original-Recipient'], 'rfc822; Gone@Origin.test')
    assert.match(report.returned, /^Subject: full\r?\n[\s\S]*\r?\n\r?\nbody of full\r?\n$/m)
  })

  it('gives the program ENVID, decoded from xtext', async () => {
    await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['e@one.test'],
      message: freshMessage('envid'),
      dsn: { envid: 'E-1 2+3' },
    })
    assert.deepEqual(
      runs().map((run) => run.envid),
      ['E-1 2+3'],
    )
  })

  it('answers as before when nothing was delivered, or something may still be', async () => {
    assert.deepEqual(await send({ to: ['gone1@one.test', 'gone2@one.test'], message: freshMessage('none') }), {
      reply:
        '550 5.1.1 mailbox gone1@one.test does not exist (2 of 2 recipients not delivered: gone1@one.test, gone2@one.test)',
      ran: ['gone1@one.test', 'gone2@one.test'],
    })
    assert.deepEqual(
      await send({ to: ['a@one.test', 'gone@one.test', 'later@one.test'], message: freshMessage('temp') }),
      {
        reply:
          '450 4.3.0 temporary failure (EX_TEMPFAIL, exit status 75) (2 of 3 recipients not delivered: gone@one.test, later@one.test)',
        ran: ['a@one.test', 'gone@one.test', 'later@one.test'],
      },
    )
  })

  it("answers 550 as with partial_failure = reject when Haraka's outbound cannot queue the DSN", async () => {
    const queue = join(haraka.dir, 'queue')
    renameSync(queue, `${queue}.away`)
    writeFileSync(queue, 'not a directory')
    try {
      assert.deepEqual(await send({ to: ['a@one.test', 'gone@one.test'], message: freshMessage('unqueued') }), {
        reply: '550 5.1.1 mailbox gone@one.test does not exist (1 of 2 recipients not delivered: gone@one.test)',
        ran: ['a@one.test', 'gone@one.test'],
      })
      await haraka.waitForLog(/\[ERROR\] .*\[pipe_transport\] no DSN sent: Haraka's outbound did not queue the DSN: /)
    } finally {
      rmSync(queue)
      renameSync(`${queue}.away`, queue)
    }
  })
})

describe('partial_failure = reject', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({ hostList: ['one.test'], ini: iniFor(work, 'partial_failure = reject') })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('answers a partial failure 550, naming the failed recipient, and sends nothing', async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['a@one.test', 'gone@one.test'],
      message: freshMessage('reject'),
    })
    assert.equal(
      `${reply?.code} ${withoutQueueId(reply?.text)}`,
      '550 5.1.1 mailbox gone@one.test does not exist (1 of 2 recipients not delivered: gone@one.test)',
    )
  })
})
