// What a failing program says reaches the people who need it: the client's reply carries its first
// stderr line or its last stdout line (reply_text), with the code from the exit-code map; the log
// line of every failure carries its first stderr line, though error_file is /dev/null; and its
// output still reaches output_file and error_file whole. A program that writes much on stderr, or
// runs a while before it says anything, is read as a stream and never waits on a full pipe. And
// the real dovecot-lda -e over quota: the client's reply carries Dovecot's own reason.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
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

const DOVECOT = '/usr/sbin/dovecot'
const DOVECOT_LDA = '/usr/lib/dovecot/dovecot-lda'
if (!existsSync(DOVECOT) || !existsSync(DOVECOT_LDA)) {
  throw new Error(`missing ${DOVECOT} or ${DOVECOT_LDA}: install Debian's dovecot-core (.ci/run does)`)
}

describe(
  'dovecot-lda -e with reply_text = stderr',
  { skip: process.getuid?.() === 0 ? false : 'dovecot-lda switches to the mail user: needs root' },
  () => {
    const work = new Scratch()
    let haraka: Haraka
    let dovecot: ChildProcess | undefined
    const send = async (to: string, message: string): Promise<string> => {
      const { reply } = await sendMail(haraka.port, { from: 'bob@origin.test', to: [to], message })
      return `${reply?.code} ${reply?.text.replace(/ \([0-9A-F-]{36}\.\d+\)$/, '')}`
    }

    before(async () => {
      // dovecot-lda runs as the mail user (uid 65534, nobody); it must reach its mail directory.
      chmodSync(work.dir, 0o755)
      const mail = work.path('mail')
      mkdirSync(mail, { mode: 0o777 })
      chmodSync(mail, 0o777)
      // alice may keep 1 KiB; Dovecot rejects what would exceed it (quota_full_tempfail = no).
      const dovecotConf = work.file(
        'dovecot.conf',
        `base_dir = ${work.path('dovecot-run')}
log_path = ${work.path('dovecot.log')}
protocols =
ssl = no
first_valid_uid = 1
mail_location = maildir:${mail}/%n
mail_plugins = quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=1K
}
userdb {
  driver = passwd-file
  args = username_format=%n ${work.file('users', `alice::65534:65534::${mail}/alice::\n`)}
}
passdb {
  driver = static
  args = nopassword=y
}
`,
      )
      dovecot = spawn(DOVECOT, ['-F', '-c', dovecotConf], { stdio: 'ignore' })
      for (let waited = 0; !existsSync(work.path('dovecot-run/auth-userdb')); waited += 50) {
        if (waited > 10_000) throw new Error('dovecot did not serve its userdb within 10 s')
        await sleep(50)
      }
      haraka = await Haraka.start({
        hostList: ['mail.test'],
        ini: `
[mailboxes]
program_name = ${DOVECOT_LDA}
arguments = -c ${dovecotConf} -e -f \${sender} -d \${user}@\${domain}
domain = mail.test
code_preset = sysexits
recipient_limit = 1
reply_text = stderr

[mailboxes.code]
77 = 550 5.2.2 mailbox full or refused (exit status %d)
`,
      })
    })

    after(async () => {
      await haraka?.stop()
      dovecot?.kill('SIGTERM')
      if (dovecot?.exitCode === null) await once(dovecot, 'exit')
      work.remove()
    })

    it("over quota: the reply carries Dovecot's reason, after the mapped code", async () => {
      const large = crlf([
        'Subject: too large',
        '',
        ...Array.from({ length: 100 }, (_, i) => `line ${i} ${'z'.repeat(60)}`),
      ])
      assert.equal(await send('alice@mail.test', large), '550 5.2.2 Quota exceeded (mailbox for user is full)')
      await haraka.waitForLog(
        /delivery .*rcpt=alice@mail\.test .*ended="exit 77" .*stderr="Quota exceeded \(mailbox for user is full\)"/,
      )
    })

    it('an unknown user: Dovecot says nothing on stderr, and the map speaks', async () => {
      assert.equal(
        await send('nobody-here@mail.test', crlf(['Subject: to nobody', '', 'body'])),
        '550 5.1.1 no such user (EX_NOUSER, exit status 67)',
      )
    })
  },
)
