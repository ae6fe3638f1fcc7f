// Delivery end to end in a real Haraka: the seed module's behaviour (the message byte-exact on stdin,
// the exit status as the reply).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, afterReceivedHeader, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

describe('delivery to a program (seed behaviour)', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    const exitWith = work.shell('exit-with', 'cat > /dev/null\nexit "$1"')
    const bothStreams = work.shell('both-streams', 'cat > /dev/null\necho "to stdout $1"\necho "to stderr $1" >&2')
    // "quits" exits at once, reading nothing.
    const perRecipient = work.shell('per-recipient', `[ "$1" = quits ] && exit 0\ncat > ${work.path('each')}-"$1".out`)
    haraka = await Haraka.start({
      hostList: [
        'capture.test',
        'each.test',
        'second.test',
        'third.test',
        'array.test',
        'codes.test',
        'mapped.test',
        'files.test',
        'unrouted.test',
      ],
      ini: `
[capture]
program_name = /bin/cat
domain = capture.test, Second.Test   third.test
output_file = ${work.path('capture.out')}

[each]
program_name = ${perRecipient}
arguments = \${user}
domain = each.test
recipient_limit = 1

[array]
program_name = /bin/cat
domain[] = array.test
output_file = ${work.path('array.out')}

[codes]
program_name = ${exitWith}
arguments = \${user}
domain = codes.test

[mapped]
program_name = ${exitWith}
arguments = \${user}
domain = mapped.test

[mapped.code]
0 = 250 ok
3 = 550 5.1.1 mailbox %d unknown
100 = 550 command failed
111 = 450 try again later

[files]
program_name = ${bothStreams}
arguments = \${user}
domain = files.test
output_file = relative-stdout.txt
error_file = ${work.path('stderr.txt')}
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it("pipes the message, with Haraka's Received header, LF line ends and no dot-stuffing", async () => {
    const message = crlf([
      'Subject: dots',
      '',
      'first line',
      '.a line that starts with a dot',
      '..two dots',
      '.',
      'last',
    ])
    const { reply } = await sendMail(haraka.port, { from: 'sender@origin.test', to: ['rcpt@capture.test'], message })
    assert.equal(reply?.code, 250)
    assert.match(reply?.text ?? '', /^Message Queued \([0-9A-F-]+\.1\)$/)
    const received = work.take('capture.out')
    assert.equal(afterReceivedHeader(received).toString('latin1'), message.replaceAll('\r\n', '\n'))
    const queueId = /\(([^)]+)\)/.exec(reply?.text ?? '')?.[1] ?? 'missing'
    assert.match(
      received.toString('latin1'),
      new RegExp(`^Received: from .*\\n\\tby haraka\\.test .* id ${queueId.replaceAll('.', '\\.')}\\n`),
    )
  })

  it('matches recipient domains case-insensitively, in a list split by commas and spaces', async () => {
    for (const rcpt of ['Someone@CAPTURE.test', 'a@second.test', 'b@THIRD.TEST']) {
      const { reply } = await sendMail(haraka.port, {
        from: 's@origin.test',
        to: [rcpt],
        message: crlf(['Subject: case', '', rcpt]),
      })
      assert.equal(reply?.code, 250, rcpt)
      assert.match(work.take('capture.out').toString(), new RegExp(`\\n${rcpt}\\n$`))
    }
  })

  it('takes domain[] lines', async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['x@array.test'],
      message: crlf(['', 'body']),
    })
    assert.equal(reply?.code, 250)
    assert.match(work.take('array.out').toString(), /\n\nbody\n$/)
  })

  it('declines a transaction for no configured domain: Haraka answers 451 and no program runs', async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['x@unrouted.test'],
      message: crlf(['', 'body']),
    })
    assert.equal(reply?.code, 451)
    for (const file of ['capture.out', 'array.out']) assert.equal(work.take(file).length, 0)
  })

  it('delivers a 20 MB message byte-exact', async () => {
    // Lines of every printable byte, some starting with dots, so dot-stuffing is exercised at scale.
    const lines: string[] = ['Subject: big', '']
    let size = 0
    for (let i = 0; size < 20 * 1024 * 1024; i++) {
      const line = `${i % 7 === 0 ? '.' : ''}${i} ${'x!#$%&*+-/=?^_{|}~'.repeat(4)}`
      lines.push(line)
      size += line.length + 1
    }
    const message = crlf(lines)
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['big@capture.test'], message })
    assert.equal(reply?.code, 250)
    const received = afterReceivedHeader(work.take('capture.out'))
    const expected = Buffer.from(message.replaceAll('\r\n', '\n'), 'latin1')
    assert.equal(received.length, expected.length)
    assert.equal(
      createHash('sha256').update(received).digest('hex'),
      createHash('sha256').update(expected).digest('hex'),
    )
  })

  // A message up to the pipe's 64 KiB goes into it before the program starts; a larger one of one
  // run streams from Haraka; several runs share one copy (a file past 1 MB), which the pipe takes the start of.
  for (const [name, kilobytes, recipients] of [
    ['a message that fits the pipe', 60, 1],
    ['a message just past the pipe, one run', 70, 1],
    ['a message past the pipe, two runs', 200, 2],
    ['a message that fits the pipe, two runs', 30, 2],
    // A file copy, which each run reads at its own position.
    ['a message of more than 1 MB, three runs', 1200, 3],
  ] as const) {
    it(`delivers ${name} byte-exact`, async () => {
      const lines = ['Subject: sized', '']
      for (let i = 0; lines.join('\r\n').length < kilobytes * 1024; i++)
        lines.push(`${i % 5 === 0 ? '.' : ''}${i} ${'y'.repeat(70)}`)
      const message = crlf(lines)
      const to = Array.from({ length: recipients }, (_, i) => `r${i}@each.test`)
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to, message })
      assert.equal(reply?.code, 250)
      for (const rcpt of to) {
        const received = afterReceivedHeader(work.take(`each-${rcpt.split('@')[0]}.out`)).toString('latin1')
        assert.equal(received.length, message.replaceAll('\r\n', '\n').length, rcpt)
        assert.equal(received, message.replaceAll('\r\n', '\n'), rcpt)
      }
    })
  }

  it('delivers a message of more than 1 MB whole to every run, while another run of it quits without reading', async () => {
    const lines = ['Subject: sized', '']
    for (let i = 0; lines.join('\r\n').length < 2 * 1024 * 1024; i++) lines.push(`${i} ${'w'.repeat(70)}`)
    const message = crlf(lines)
    for (let round = 0; round < 3; round++) {
      const to = ['quits@each.test', 'r0@each.test', 'r1@each.test', 'r2@each.test']
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to, message })
      assert.equal(reply?.code, 250)
      for (const rcpt of to.slice(1)) {
        const received = afterReceivedHeader(work.take(`each-${rcpt.split('@')[0]}.out`)).toString('latin1')
        assert.equal(received.length, message.replaceAll('\r\n', '\n').length, `${rcpt}, round ${round}`)
      }
    }
  })

  it('appends stdout to output_file (relative to the install dir) and stderr to error_file', async () => {
    for (const run of ['one', 'two']) {
      const { reply } = await sendMail(haraka.port, {
        from: 's@origin.test',
        to: [`${run}@files.test`],
        message: crlf(['', 'x']),
      })
      assert.equal(reply?.code, 250)
    }
    assert.equal(readFileSync(join(haraka.dir, 'relative-stdout.txt'), 'utf8'), 'to stdout one\nto stdout two\n')
    assert.equal(work.take('stderr.txt').toString(), 'to stderr one\nto stderr two\n')
  })

  describe('replies from the exit status', () => {
    const cases: [string, string, number, RegExp][] = [
      ['unmapped 0', '0@codes.test', 250, /^Message Queued \(\S+\)$/],
      ['unmapped 3', '3@codes.test', 550, /^5\.5\.0 pipe transport gave exit status 3 \(\S+\)$/],
      ['unmapped 111', '111@codes.test', 550, /^5\.5\.0 pipe transport gave exit status 111 \(\S+\)$/],
      ['mapped 0', '0@mapped.test', 250, /^ok \(\S+\)$/],
      ['mapped 100', '100@mapped.test', 550, /^command failed \(\S+\)$/],
      ['mapped 111', '111@mapped.test', 450, /^try again later \(\S+\)$/],
      ['mapped 3, with %d and an enhanced code', '3@mapped.test', 550, /^5\.1\.1 mailbox 3 unknown \(\S+\)$/],
      ['unmapped 4 beside a map', '4@mapped.test', 550, /^5\.5\.0 pipe transport gave exit status 4 \(\S+\)$/],
    ]
    for (const [name, rcpt, code, text] of cases) {
      it(`${name} → ${code}`, async () => {
        const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: [rcpt], message: crlf(['', 'x']) })
        assert.equal(reply?.code, code)
        assert.match(reply?.text ?? '', text)
        // The configured basic code never appears in the text: Haraka puts its own in front.
        assert.doesNotMatch(reply?.text ?? '', /^[245]\d\d /)
      })
    }
  })

  it('logs one line per delivery', () => {
    assert.match(
      haraka.log,
      /\[pipe_transport\] delivery queue_id=\S+ instance=mapped program=\S+exit-with recipients=1 rcpt=\S+ bytes=\d+ duration_ms=\d+ ended="exit 100" reply="550 command failed"/,
    )
  })
})
