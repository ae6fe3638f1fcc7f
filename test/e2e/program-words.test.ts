// What a failing program says reaches the people who need it: the client's reply carries its first
// stderr line or its last stdout line (reply_text), with the code from the exit-code map; the log
// line of every failure carries its first stderr line, though error_file is /dev/null; and its
// output still reaches output_file and error_file whole. A program that writes much on stderr, or
// runs a while before it says anything, is read as a stream and never waits on a full pipe.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const MESSAGE = crlf(['Subject: words', '', 'body'])

describe("a failing program's own words", () => {
  const work = new Scratch()
  let haraka: Haraka
  /** The reply to a message to `to`, without Haraka's queue id. */
  const send = async (to: string): Promise<string> => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: [to], message: MESSAGE })
    return `${reply?.code} ${reply?.text.replace(/ \([0-9A-F-]{36}\.\d+\)$/, '')}`
  }

  before(async () => {
    // Says two lines on each stream (a UTF-8 é and a tab in the first stderr line), then exits
    // with the status its argument names.
    const speaker = work.shell(
      'speaker',
      `cat > /dev/null
printf 'progress\\nqueue "%s" unknown\\n\\n' "$1"
printf 'caf\\303\\251\\tclosed: %s\\nsecond stderr line\\n' "$1" >&2
exit "$1"`,
    )
    // A megabyte on stderr before it exits 1: more than any pipe holds.
    const chatty = work.shell('chatty', 'cat > /dev/null\nhead -c 1048576 /dev/zero | tr "\\0" x >&2\nexit 1')
    // Quiet for longer than a moment, then says why it fails.
    const slow = work.shell('slow', 'cat > /dev/null\nsleep 0.3\necho "slow and failing" >&2\nexit 1')
    haraka = await Haraka.start({
      hostList: ['map.test', 'stderr.test', 'stdout.test', 'files.test', 'chatty.test', 'slow.test'],
      ini: `
[main]
program_name = ${speaker}
arguments = \${user}
code_preset = sysexits

[map]
domain = map.test

[stderr]
domain = stderr.test
reply_text = stderr

[stdout]
domain = stdout.test
reply_text = stdout

[files]
domain = files.test
reply_text = stdout
output_file = ${work.path('stdout.txt')}
error_file = ${work.path('stderr.txt')}

[chatty]
program_name = ${chatty}
domain = chatty.test

[slow]
program_name = ${slow}
domain = slow.test
reply_text = stderr
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('reply_text = stderr: the first stderr line, printable ASCII, after the mapped code', async () => {
    // é is two bytes in UTF-8, then the tab: three characters outside printable ASCII.
    assert.equal(await send('67@stderr.test'), '550 5.1.1 caf???closed: 67')
    assert.equal(await send('75@stderr.test'), '450 4.3.0 caf???closed: 75')
  })

  it('reply_text = stdout: the last stdout line that says anything', async () => {
    assert.equal(await send('77@stdout.test'), '550 5.7.0 queue "77" unknown')
  })

  it('reply_text = map, the default: the map alone; a success is never reworded', async () => {
    assert.equal(await send('67@map.test'), '550 5.1.1 no such user (EX_NOUSER, exit status 67)')
    assert.equal(await send('0@stderr.test'), '250 Message Queued')
  })

  it('logs the first stderr line of every failure, escaped, though error_file is /dev/null; none for a success', async () => {
    await send('65@map.test')
    await haraka.waitForLog(
      // Each byte outside printable ASCII as \xHH, which Haraka's logfmt writes with its backslash doubled.
      /\[WARN\] .*\[pipe_transport\] delivery .*rcpt=65@map\.test .*ended="exit 65" .*stderr="caf\\\\xc3\\\\xa9\\\\x09closed: 65"/,
    )
    await send('0@map.test')
    const success = await haraka.waitForLog(/\[INFO\] .*\[pipe_transport\] delivery .*rcpt=0@map\.test .*/)
    assert.doesNotMatch(success[0], /stderr=/)
  })

  it('still appends all of stdout and stderr to their files when it reads them', async () => {
    assert.equal(await send('68@files.test'), '550 5.1.2 queue "68" unknown')
    assert.equal(readFileSync(work.path('stdout.txt'), 'latin1'), 'progress\nqueue "68" unknown\n\n')
    assert.equal(readFileSync(work.path('stderr.txt'), 'latin1'), 'caf\u00c3\u00a9\tclosed: 68\nsecond stderr line\n')
  })

  it('a megabyte on stderr, with error_file /dev/null: answered at once, its first line logged', async () => {
    const started = Date.now()
    assert.equal(await send('x@chatty.test'), '550 5.3.0 delivery failed (exit status 1)')
    assert.ok(Date.now() - started < 20_000, 'not held until its timeout')
    // Bounded: 200 characters of it and the mark that there was more.
    await haraka.waitForLog(/delivery .*rcpt=x@chatty\.test .*stderr=x{200}\.\.\.$/m)
  })

  it('a program that says why only after a while', async () => {
    assert.equal(await send('x@slow.test'), '550 5.3.0 slow and failing')
    await haraka.waitForLog(/delivery .*rcpt=x@slow\.test .*stderr="slow and failing"/)
  })
})
