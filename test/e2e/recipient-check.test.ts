// check_program refuses unknown recipients at RCPT, before any data is taken.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail, type SendResult } from './smtp.js'

const MESSAGE = crlf(['Subject: check', '', 'body'])

describe('check_program at RCPT', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    // Says by the local part whether the recipient exists, and logs each call with its argv and USER.
    const check = work.shell(
      'check',
      `echo "$* USER=$USER" >> "${work.path('checks.log')}"
case "$USER" in
  known*) exit 0;;
  unknown*) exit 67;;
  mapped*) exit 5;;
  delivery*) exit 6;;
  tempfail*) exit 75;;
  hang*) exec sleep 30;;
esac
exit 1`,
    )
    const deliver = work.shell('deliver', `cat > /dev/null\necho "$*" >> "${work.path('runs.log')}"`)
    haraka = await Haraka.start({
      hostList: ['check.test', 'getent.test'],
      ini: `
[checked]
program_name = ${deliver}
arguments = \${recipient}
domain = check.test
code_preset = sysexits
check_program = ${check}
check_arguments = user \${user}@\${domain}
check_timeout = 1
check_cache = 600

[checked.check_codes]
5 = refuse

[checked.code]
6 = 550 5.1.1 a status of the delivery program

[getent]
program_name = ${deliver}
arguments = \${recipient}
domain = getent.test
check_program = /usr/bin/getent
check_arguments = passwd \${user}
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  const send = async (to: string[]): Promise<string[]> =>
    summary(await sendMail(haraka.port, { from: 's@origin.test', to, message: MESSAGE }))
  const summary = (result: SendResult): string[] => [
    ...[...result.refused].map(([rcpt, reply]) => `${rcpt}: ${reply.code} ${reply.text}`),
    result.reply ? `final: ${result.reply.code}` : 'final: none',
  ]

  it('accepts a recipient the program knows and refuses one it does not, before DATA', async () => {
    assert.deepEqual(await send(['known@check.test', 'unknown@check.test']), [
      'unknown@check.test: 550 5.1.1 unknown@check.test: no such recipient here',
      'final: 250',
    ])
    assert.deepEqual(work.takeLines('runs.log'), ['known@check.test'])
    assert.deepEqual(work.takeLines('checks.log'), [
      'user known@check.test USER=known',
      'user unknown@check.test USER=unknown',
    ])
  })

  it('refuses a status check_codes maps to refuse, and defers on 75, on a timeout, and on anything else', async () => {
    assert.deepEqual(await send(['mapped@check.test']), [
      'mapped@check.test: 550 5.1.1 mapped@check.test: no such recipient here',
      'final: none',
    ])
    // [checked.code] is the delivery program's: its 550 for status 6 does not make the check refuse.
    for (const rcpt of ['tempfail@check.test', 'hang@check.test', 'other@check.test', 'delivery@check.test']) {
      assert.deepEqual(
        await send([rcpt]),
        [`${rcpt}: 450 4.3.0 ${rcpt}: cannot check this recipient now, try again later`, 'final: none'],
        rcpt,
      )
    }
    await haraka.waitForLog(
      /\[WARN\] .*\[pipe_transport\] recipient check instance=checked rcpt=hang@check\.test ended=timed-out answer="450 4\.3\.0/,
    )
    assert.deepEqual(work.takeLines('runs.log'), [])
    work.take('checks.log')
  })

  it('refuses with 550 a user getent passwd does not know (its exit 2), and accepts one it knows', async () => {
    assert.deepEqual(await send(['root@getent.test', 'no-such-user-here@getent.test']), [
      'no-such-user-here@getent.test: 550 5.1.1 no-such-user-here@getent.test: no such recipient here',
      'final: 250',
    ])
    assert.deepEqual(work.takeLines('runs.log'), ['root@getent.test'])
    await haraka.waitForLog(
      /\[INFO\] .*\[pipe_transport\] recipient check instance=getent rcpt=no-such-user-here@getent\.test ended="exit 2" answer="550 5\.1\.1 /,
    )
  })

  it('keeps answers for check_cache seconds, but never a 4xx', async () => {
    assert.deepEqual(await send(['known@check.test']), ['final: 250'])
    assert.deepEqual(await send(['unknown@check.test']), [
      'unknown@check.test: 550 5.1.1 unknown@check.test: no such recipient here',
      'final: none',
    ])
    assert.deepEqual(work.takeLines('checks.log'), [])
    assert.deepEqual(await send(['tempfail@check.test']), [
      'tempfail@check.test: 450 4.3.0 tempfail@check.test: cannot check this recipient now, try again later',
      'final: none',
    ])
    assert.deepEqual(work.takeLines('checks.log'), ['user tempfail@check.test USER=tempfail'])
    work.take('runs.log')
  })
})
