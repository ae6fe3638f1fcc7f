// The recipes against the real programs from Debian's packages (.ci/run installs them):
// dovecot-lda files by extension, mlmmj answers a subscribe request, procmail files by extension.
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { SMTPServer } from 'smtp-server'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const DOVECOT = '/usr/sbin/dovecot'
const DOVECOT_LDA = '/usr/lib/dovecot/dovecot-lda'
const DOVEADM = '/usr/bin/doveadm'
const MLMMJ_MAKE_ML = '/usr/bin/mlmmj-make-ml'
const MLMMJ_RECEIVE = '/usr/bin/mlmmj-receive'
const PROCMAIL = '/usr/bin/procmail'

const missing = [DOVECOT, DOVECOT_LDA, DOVEADM, MLMMJ_MAKE_ML, MLMMJ_RECEIVE, PROCMAIL].filter(
  (program) => !existsSync(program),
)
if (missing.length > 0) {
  throw new Error(`missing ${missing.join(', ')}: install Debian's dovecot-core, mlmmj and procmail (.ci/run does)`)
}

/** A message an SMTP sink received. */
interface Received {
  readonly from: string
  readonly to: string[]
  readonly data: string
}

/** An SMTP server on a free loopback port that keeps what it is sent (where mlmmj sends its mail). */
async function smtpSink(): Promise<{ port: number; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const envelope = session.envelope
        received.push({
          from: envelope.mailFrom === false ? '' : envelope.mailFrom.address,
          to: envelope.rcptTo.map((rcpt) => rcpt.address),
          data: Buffer.concat(chunks).toString('latin1'),
        })
        done()
      })
    },
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  const address = server.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return { port, received, close: () => new Promise((done) => server.close(() => done())) }
}

/** Files under a maildir folder's new/ directory, read whole. */
function newMail(folder: string): string[] {
  const dir = join(folder, 'new')
  return existsSync(dir) ? readdirSync(dir).map((file) => readFileSync(join(dir, file), 'latin1')) : []
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`)
    await sleep(50)
  }
}

describe(
  'real programs behind the recipes',
  { skip: process.getuid?.() === 0 ? false : 'dovecot-lda switches to the mail user: needs root' },
  () => {
    const work = new Scratch()
    let haraka: Haraka
    let dovecot: ChildProcess | undefined
    let sink: Awaited<ReturnType<typeof smtpSink>>
    const mail = work.path('mail')
    const spool = work.path('mlmmj')
    const procmailDir = work.path('procmail')

    before(async () => {
      // dovecot-lda runs as the mail user (uid 65534, nobody); it must reach its mail directory.
      chmodSync(work.dir, 0o755)
      mkdirSync(mail, { mode: 0o777 })
      chmodSync(mail, 0o777)
      // dovecot itself, with no protocol, serves the userdb that `dovecot-lda -d` asks.
      const dovecotConf = work.file(
        'dovecot.conf',
        `base_dir = ${work.path('dovecot-run')}
log_path = ${work.path('dovecot.log')}
protocols =
ssl = no
first_valid_uid = 1
mail_location = maildir:${mail}/%n
lda_mailbox_autocreate = yes
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
      await waitFor('dovecot serving its userdb', () =>
        existsSync(work.path('dovecot-run/auth-userdb')) ? true : undefined,
      )

      sink = await smtpSink()
      const made = spawnSync(MLMMJ_MAKE_ML, ['-L', 'list', '-s', spool], {
        input: 'lists.test\nowner@lists.test\nen\n',
      })
      assert.equal(made.status, 0, `mlmmj-make-ml: ${made.stderr.toString()}`)
      writeFileSync(join(spool, 'list/control/relayhost'), '127.0.0.1\n')
      writeFileSync(join(spool, 'list/control/smtpport'), `${sink.port}\n`)

      mkdirSync(procmailDir)
      const procmailrc = work.file(
        'folders.rc',
        `MAILDIR=${procmailDir}\nDEFAULT=$MAILDIR/inbox/\nEXTENSION=$1\n:0\n* EXTENSION ?? .\n$MAILDIR/$EXTENSION/\n`,
      )

      haraka = await Haraka.start({
        hostList: ['mail.test', 'checked.test', 'lists.test', 'pm.test'],
        ini: `
[main]
recipient_delimiter = +

[mailboxes]
program_name = ${DOVECOT_LDA}
arguments = -c ${dovecotConf} -f \${sender} -d \${user}@\${domain} -m \${extension} -a \${original_recipient}
domain = mail.test
code_preset = sysexits
recipient_limit = 1
delivered_to = true
return_path = true

[checked-mailboxes]
program_name = ${DOVECOT_LDA}
arguments = -c ${dovecotConf} -f \${sender} -d \${user}@\${domain}
domain = checked.test
code_preset = sysexits
recipient_limit = 1
check_program = ${DOVEADM}
check_arguments = -c ${dovecotConf} user \${user}@\${domain}

[mlmmj]
program_name = ${MLMMJ_RECEIVE}
arguments = -F -L ${spool}/\${route_data}/
leftover_processes = keep
code_preset = sysexits
recipient_limit = 1
delivered_to = true
x_original_to = true
return_path = true
lowercase_local_part = true

[mlmmj.address]
list@lists.test = list

[procmail]
program_name = ${PROCMAIL}
arguments = -m ${procmailrc} \${extension}
domain = pm.test
code_preset = sysexits
recipient_limit = 1
`,
      })
    })

    after(async () => {
      await haraka?.stop()
      dovecot?.kill('SIGTERM')
      if (dovecot?.exitCode === null) await once(dovecot, 'exit')
      await sink?.close()
      work.remove()
    })

    it('dovecot-lda files alice+work@ in her work folder and alice@ in her INBOX', async () => {
      const message = (subject: string): string => crlf([`Subject: ${subject}`, '', `body of ${subject}`])
      for (const [rcpt, subject] of [
        ['alice+work@mail.test', 'for work'],
        ['alice@mail.test', 'for the inbox'],
      ] as const) {
        const { reply } = await sendMail(haraka.port, {
          from: 'bob@origin.test',
          to: [rcpt],
          message: message(subject),
        })
        assert.equal(reply?.code, 250, `${rcpt}: ${reply?.text}`)
      }
      const [work1] = newMail(join(mail, 'alice', '.work'))
      const [inbox] = newMail(join(mail, 'alice'))
      assert.match(
        work1 ?? '',
        /^Return-Path: <bob@origin\.test>\nDelivered-To: alice\+work@mail\.test\nReceived: [\s\S]*\nSubject: for work\n\nbody of for work\n$/,
      )
      assert.match(
        inbox ?? '',
        /^Return-Path: <bob@origin\.test>\nDelivered-To: alice@mail\.test\nReceived: [\s\S]*\nSubject: for the inbox\n\nbody of for the inbox\n$/,
      )
      assert.equal(newMail(join(mail, 'alice')).length, 1)
    })

    it('dovecot-lda refuses a user its userdb does not know: exit 67 is 550 5.1.1 with the sysexits preset', async () => {
      const { reply } = await sendMail(haraka.port, {
        from: 'bob@origin.test',
        to: ['nobody-here@mail.test'],
        message: crlf(['Subject: x', '', 'x']),
      })
      assert.equal(
        `${reply?.code} ${reply?.text.replace(/ \([^)]+\)$/, '')}`,
        '550 5.1.1 no such user (EX_NOUSER, exit status 67)',
      )
    })

    it('doveadm user, as check_program, refuses a user dovecot does not know at RCPT and lets a known one through', async () => {
      const result = await sendMail(haraka.port, {
        from: 'bob@origin.test',
        to: ['nobody-here@checked.test', 'alice@checked.test'],
        message: crlf(['Subject: checked', '', 'x']),
      })
      assert.equal(
        `${result.refused.get('nobody-here@checked.test')?.code} ${result.refused.get('nobody-here@checked.test')?.text}`,
        '550 5.1.1 nobody-here@checked.test: no such recipient here',
      )
      assert.equal(result.reply?.code, 250)
      assert.equal(newMail(join(mail, 'alice')).filter((text) => text.includes('Subject: checked')).length, 1)
    })

    it("mlmmj answers a Bcc'd list+subscribe@ with its confirmation to the requester", async () => {
      const { reply } = await sendMail(haraka.port, {
        from: 'bob@origin.test',
        to: ['List+Subscribe@lists.test'],
        message: crlf(['From: bob@origin.test', 'To: undisclosed-recipients:;', 'Subject: subscribe', '', '']),
      })
      assert.equal(reply?.code, 250, reply?.text)
      const confirmation = await waitFor('mlmmj confirmation', () =>
        sink.received.find((each) => each.to.includes('bob@origin.test')),
      )
      assert.match(confirmation.from, /^list\+bounces-confsub-[0-9a-f]+-bob=origin\.test@lists\.test$/)
      assert.match(confirmation.data, /Confirm_subscription_to_list=40lists\.test/)
      assert.match(confirmation.data, /^Reply-To: list\+confsub-[0-9a-f]+-bob=origin\.test@lists\.test$/m)
    })

    it('procmail files by the extension it is given', async () => {
      for (const rcpt of ['carol+receipts@pm.test', 'carol@pm.test']) {
        const { reply } = await sendMail(haraka.port, {
          from: 'bob@origin.test',
          to: [rcpt],
          message: crlf([`Subject: ${rcpt}`, '', 'x']),
        })
        assert.equal(reply?.code, 250, `${rcpt}: ${reply?.text}`)
      }
      assert.deepEqual(
        newMail(join(procmailDir, 'receipts')).map((text) => /^Subject: (.*)$/m.exec(text)?.[1]),
        ['carol+receipts@pm.test'],
      )
      assert.deepEqual(
        newMail(join(procmailDir, 'inbox')).map((text) => /^Subject: (.*)$/m.exec(text)?.[1]),
        ['carol@pm.test'],
      )
    })
  },
)
