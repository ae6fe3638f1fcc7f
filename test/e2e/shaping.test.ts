// Exit-code presets, status from stderr, and message shaping, end to end.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, afterReceivedHeader, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

/** A plugin that, after the queue hook, logs what other plugins see of the transaction's message. */
const OBSERVER = `
exports.hook_queue_ok = function (next, connection) {
  connection.transaction.message_stream.get_data((body) => {
    const text = body.toString('latin1')
    connection.loginfo(this, 'transaction message: return_path=' + text.includes('Return-Path:') + ' delivered_to=' + text.includes('Delivered-To:') + ' escaped=' + text.includes('>From ') + ' crlf=' + text.includes('\\r\\n'))
    next()
  })
}
`

describe('exit-code presets, status from stderr, message shaping', () => {
  const work = new Scratch()
  let haraka: Haraka

  const send = async (rcpt: string, message = crlf(['Subject: shape', '', 'body'])): Promise<string> => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: [rcpt], message })
    return `${reply?.code} ${reply?.text.replace(/ \([^)]+\)$/, '')}`
  }

  before(async () => {
    const exitWith = work.shell('exit-with', 'cat > /dev/null\nexit "$1"')
    const complain = work.shell(
      'complain',
      `cat > /dev/null\ncase "$1" in\n  full) printf '5.2.2 mailbox full\\nsecond line\\n' >&2; exit 1;;\n  busy) printf '4.4.1 busy\\007 now\\n' >&2; exit 75;;\n  plain) echo 'something broke' >&2; exit 75;;\n  ok) echo '5.0.0 not an error' >&2; exit 0;;\nesac`,
    )
    const domains = ['sysexits.test', 'qmail.test', 'stderr.test', 'quiet.test', 'crlf.test', 'mbox.test']
    haraka = await Haraka.start({
      hostList: domains,
      plugins: ['rcpt_to.in_host_list', 'pipe_transport', 'observer'],
      extraPlugins: { observer: work.file('observer.js', OBSERVER) },
      ini: `
[sysexits]
program_name = ${exitWith}
arguments = \${user}
domain = sysexits.test
code_preset = sysexits

[sysexits.code]
68 = 550 5.1.2 that host is not ours (%d)
default = 450 4.0.0 please retry

[qmail]
program_name = ${exitWith}
arguments = \${user}
domain = qmail.test
code_preset = qmail

[stderr]
program_name = ${complain}
arguments = \${user}
domain = stderr.test
code_preset = sysexits
status_from_stderr = true
error_file = ${work.path('stderr.txt')}

[quiet]
program_name = ${complain}
arguments = \${user}
domain = quiet.test
code_preset = sysexits

[crlf]
program_name = /bin/cat
domain = crlf.test
line_endings = crlf
output_file = ${work.path('crlf.out')}

[mbox]
program_name = /bin/cat
domain = mbox.test
from_line = yes
return_path = true
delivered_to = true
recipient_limit = 1
output_file = ${work.path('mbox.out')}
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('sysexits preset, with single entries and the default overridden by [NAME.code]', async () => {
    assert.equal(await send('0@sysexits.test'), '250 Message Queued')
    assert.equal(await send('75@sysexits.test'), '450 4.3.0 temporary failure (EX_TEMPFAIL, exit status 75)')
    assert.equal(await send('78@sysexits.test'), '450 4.3.5 configuration error (EX_CONFIG, exit status 78)')
    assert.equal(await send('67@sysexits.test'), '550 5.1.1 no such user (EX_NOUSER, exit status 67)')
    assert.equal(await send('68@sysexits.test'), '550 5.1.2 that host is not ours (68)')
    assert.equal(await send('1@sysexits.test'), '450 4.0.0 please retry')
  })

  it('qmail preset', async () => {
    assert.equal(await send('99@qmail.test'), '250 Message Queued')
    assert.equal(await send('100@qmail.test'), '550 5.3.0 permanent failure (exit status 100)')
    assert.equal(await send('111@qmail.test'), '450 4.3.0 temporary failure (exit status 111)')
  })

  it("status_from_stderr: a failing program's status line becomes the reply, sanitised; stderr still reaches error_file", async () => {
    assert.equal(await send('full@stderr.test'), '550 5.2.2 mailbox full')
    assert.equal(await send('busy@stderr.test'), '450 4.4.1 busy? now')
    assert.equal(await send('plain@stderr.test'), '450 4.3.0 temporary failure (EX_TEMPFAIL, exit status 75)')
    assert.equal(await send('ok@stderr.test'), '250 Message Queued')
    assert.equal(
      work.take('stderr.txt').toString('latin1'),
      '5.2.2 mailbox full\nsecond line\n4.4.1 busy\x07 now\nsomething broke\n5.0.0 not an error\n',
    )
  })

  it('without status_from_stderr, program output never reaches the client', async () => {
    assert.equal(await send('full@quiet.test'), '550 5.3.0 delivery failed (exit status 1)')
  })

  it('line_endings = crlf gives the program CRLF line ends', async () => {
    const message = crlf(['Subject: crlf', '', 'one', '.two'])
    assert.equal(await send('x@crlf.test', message), '250 Message Queued')
    const received = work.take('crlf.out').toString('latin1')
    assert.match(received, /^Received: from [^\n]*\r\n/)
    assert.ok(received.endsWith(message), received)
    assert.doesNotMatch(received, /[^\r]\n/)
  })

  it('from_line, return_path and delivered_to prepend their lines and escape "From " body lines', async () => {
    const message = crlf(['Subject: mbox', '', 'From the start', 'not From here', 'From'])
    assert.equal(await send('Rcpt@mbox.test', message), '250 Message Queued')
    const received = work.take('mbox.out')
    const text = received.toString('latin1')
    assert.match(
      text,
      /^From s@origin\.test (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\nReturn-Path: <s@origin\.test>\nDelivered-To: Rcpt@mbox\.test\nReceived: from /,
    )
    const afterPreface = received.subarray(text.indexOf('Received: from '))
    assert.equal(
      afterReceivedHeader(afterPreface).toString('latin1'),
      'Subject: mbox\n\n>From the start\nnot From here\nFrom\n',
    )
  })

  it('shapes only what the program reads: other plugins see the transaction unchanged', async () => {
    await send('x@mbox.test', crlf(['Subject: observed', '', 'From here']))
    const lines = await haraka.waitForLog(/\[observer\] transaction message: .*\n/)
    assert.match(lines[0], /return_path=false delivered_to=false escaped=false/)
  })
})
