// The recipes of docs/recipes.md that name a Debian program, run against that program from
// Debian's package (.ci/run installs them), each as documented but for the paths and accounts of
// this machine: dovecot-lda files by extension, mlmmj answers a subscribe request, procmail files
// by extension, maildrop delivers to a system user through ~/.mailfilter, public-inbox-mda
// archives a list's mail with its precheck. Plus configuration.md's doveadm check_program.
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { SmtpSink } from './smtp-sink.js'
import { lookupUser } from '../../plugins/pipe_transport/settings/accounts.js'
import { adaptedRecipe } from './documented-recipes.js'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const DOVECOT = '/usr/sbin/dovecot'
const DOVECOT_LDA = '/usr/lib/dovecot/dovecot-lda'
const DOVEADM = '/usr/bin/doveadm'
const MLMMJ_MAKE_ML = '/usr/bin/mlmmj-make-ml'
const MLMMJ_RECEIVE = '/usr/bin/mlmmj-receive'
const PROCMAIL = '/usr/bin/procmail'
const MAILDROP = '/usr/bin/maildrop'
const PUBLIC_INBOX_MDA = '/usr/bin/public-inbox-mda'
const PUBLIC_INBOX_INIT = '/usr/bin/public-inbox-init'

const missing = [
  DOVECOT,
  DOVECOT_LDA,
  DOVEADM,
  MLMMJ_MAKE_ML,
  MLMMJ_RECEIVE,
  PROCMAIL,
  MAILDROP,
  PUBLIC_INBOX_MDA,
  PUBLIC_INBOX_INIT,
].filter((program) => !existsSync(program))
if (missing.length > 0) {
  throw new Error(
    `missing ${missing.join(', ')}: install Debian's dovecot-core, mlmmj, procmail, maildrop and public-inbox (.ci/run does)`,
  )
}

/** Files under a maildir folder's new/ directory, read whole. */
function newMail(folder: string): string[] {
  const dir = join(folder, 'new')
  return existsSync(dir) ? readdirSync(dir).map((file) => readFileSync(join(dir, file), 'latin1')) : []
}

/** A maildir folder (new, cur, tmp), made and owned by the account. */
function maildir(folder: string, owner: { uid: number; gid: number }): void {
  for (const sub of ['', 'new', 'cur', 'tmp']) {
    mkdirSync(join(folder, sub), { recursive: true })
    chownSync(join(folder, sub), owner.uid, owner.gid)
  }
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

const subjectOf = (text: string): string | undefined => /^Subject: (.*)$/m.exec(text)?.[1]

describe(
  'the recipes of Debian programs, against the programs',
  {
    skip: process.getuid?.() === 0 ? false : 'needs root: the programs run as their own account, and maildrop as root',
  },
  () => {
    const work = new Scratch()
    /** A system account for this run, in the place of the recipes' vmail, mlmmj and pi, and a maildrop user. */
    const name = `pttest${process.pid}`
    const home = work.path('home')
    let account: { uid: number; gid: number }
    let dovecot: ChildProcess | undefined
    let sink: SmtpSink
    const harakas = new Map<string, Haraka>()
    const haraka = (recipe: string): Haraka => {
      const found = harakas.get(recipe)
      assert.ok(found, recipe)
      return found
    }
    const mail = work.path('mail')
    const spool = work.path('mlmmj')
    const procmailDir = work.path('procmail')
    const inbox = join(home, 'inboxes', 'team')

    before(async () => {
      // The account and everything it runs must reach its files through the scratch dir.
      chmodSync(work.dir, 0o755)
      execFileSync('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/sh', name])
      const entry = lookupUser(name)
      assert.ok(entry, `useradd ${name}`)
      account = { uid: entry.uid, gid: entry.gid }
      mkdirSync(home)
      chownSync(home, account.uid, account.gid)

      // dovecot itself, with no protocol, serves the userdb that `dovecot-lda -d` and doveadm ask.
      // alice is a virtual user of the account (the recipe's vmail), which dovecot-lda runs as: it
      // must reach dovecot's stats-writer socket and log file, as in any vmail installation.
      mkdirSync(mail)
      chownSync(mail, account.uid, account.gid)
      writeFileSync(work.path('dovecot.log'), '', { mode: 0o666 })
      chmodSync(work.path('dovecot.log'), 0o666)
      const dovecotConf = work.file(
        'dovecot.conf',
        `base_dir = ${work.path('dovecot-run')}
log_path = ${work.path('dovecot.log')}
protocols =
ssl = no
first_valid_uid = 0
mail_location = maildir:${mail}/%n
lda_mailbox_autocreate = yes
userdb {
  driver = passwd-file
  args = username_format=%n ${work.file('users', `alice::${account.uid}:${account.gid}::${mail}/alice::\n`)}
}
passdb {
  driver = static
  args = nopassword=y
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`,
      )
      dovecot = spawn(DOVECOT, ['-F', '-c', dovecotConf], { stdio: 'ignore' })
      await waitFor('dovecot serving its userdb', () =>
        existsSync(work.path('dovecot-run/auth-userdb')) ? true : undefined,
      )

      sink = await SmtpSink.start()
      const made = spawnSync(MLMMJ_MAKE_ML, ['-L', 'team', '-s', spool], {
        input: 'lists.example.com\nowner@lists.example.com\nen\n',
      })
      assert.equal(made.status, 0, `mlmmj-make-ml: ${made.stderr.toString()}`)
      writeFileSync(join(spool, 'team/control/relayhost'), '127.0.0.1\n')
      writeFileSync(join(spool, 'team/control/smtpport'), `${sink.port}\n`)
      execFileSync('chown', ['-R', `${account.uid}:${account.gid}`, spool])

      mkdirSync(procmailDir)
      chownSync(procmailDir, account.uid, account.gid)
      const procmailrc = work.file(
        'folders.rc',
        `MAILDIR=${procmailDir}\nDEFAULT=$MAILDIR/inbox/\nEXTENSION=$1\n:0\n* EXTENSION ?? .\n$MAILDIR/$EXTENSION/\n`,
      )

      // The maildrop user's own filter, which files by the extension ($1).
      maildir(join(home, 'Maildir'), account)
      maildir(join(home, 'Maildir', '.work'), account)
      const mailfilter = join(home, '.mailfilter')
      writeFileSync(mailfilter, 'if ($1 ne "")\n{\n  to "$HOME/Maildir/.$1/"\n}\nto "$HOME/Maildir/"\n', {
        mode: 0o600,
      })
      chownSync(mailfilter, account.uid, account.gid)

      // The account's inbox and ~/.public-inbox/config, as public-inbox's own tools write them.
      const asAccount = { uid: account.uid, gid: account.gid, env: { HOME: home, PATH: '/usr/bin:/bin' } }
      execFileSync(
        PUBLIC_INBOX_INIT,
        ['-V2', 'team', inbox, 'https://lists.example.com/team', 'team@lists.example.com'],
        asAccount,
      )
      execFileSync(
        'git',
        ['config', '-f', join(home, '.public-inbox', 'config'), 'publicinboxmda.spamcheck', 'none'],
        asAccount,
      )

      const inis: Record<string, string> = {
        'dovecot-lda': `${adaptedRecipe('dovecot-lda', [
          ['arguments = -e', `arguments = -c ${dovecotConf} -e`],
          ['user = vmail', `user = ${name}`],
        ])}
[checked-mailboxes]
program_name = ${DOVECOT_LDA}
arguments = -c ${dovecotConf} -e -f \${sender} -d \${user}@\${domain}
domain = checked.example.com
user = ${name}
recipient_limit = 1
code_preset = sysexits
check_program = ${DOVEADM}
check_arguments = -c ${dovecotConf} user \${user}@\${domain}
`,
        mlmmj: adaptedRecipe('mlmmj', [
          ['/var/spool/mlmmj/', `${spool}/`],
          ['user = mlmmj', `user = ${name}`],
        ]),
        procmail: adaptedRecipe('procmail', [
          ['/etc/procmail/folders.rc', procmailrc],
          ['user = vmail', `user = ${name}`],
        ]),
        maildrop: adaptedRecipe('maildrop', []),
        'public-inbox': adaptedRecipe('public-inbox', [['user = pi', `user = ${name}`]]),
      }
      const started = Object.entries(inis).map(async ([recipe, ini]) => {
        harakas.set(recipe, await Haraka.start({ ini, hostList: ['example.com', 'checked.example.com'] }))
      })
      await Promise.all(started)
    })

    after(async () => {
      await Promise.all([...harakas.values()].map((each) => each.stop()))
      dovecot?.kill('SIGTERM')
      if (dovecot?.exitCode === null) await once(dovecot, 'exit')
      await sink?.close()
      spawnSync('userdel', [name])
      work.remove()
    })

    const message = (subject: string, headers: readonly string[] = []): string =>
      crlf([...headers, `Subject: ${subject}`, '', `body of ${subject}`])

    it('dovecot-lda files alice+work@ in her work folder and alice@ in her INBOX, as the recipe account', async () => {
      for (const [rcpt, subject] of [
        ['alice+work@example.com', 'for work'],
        ['alice@example.com', 'for the inbox'],
      ] as const) {
        const { reply } = await sendMail(haraka('dovecot-lda').port, {
          from: 'bob@origin.test',
          to: [rcpt],
          message: message(subject),
        })
        assert.equal(reply?.code, 250, `${rcpt}: ${reply?.text}`)
      }
      const [work1] = newMail(join(mail, 'alice', '.work'))
      const [inbox1] = newMail(join(mail, 'alice'))
      assert.match(
        work1 ?? '',
        /^Return-Path: <bob@origin\.test>\nDelivered-To: alice\+work@example\.com\nReceived: [\s\S]*\nSubject: for work\n\nbody of for work\n$/,
      )
      assert.match(
        inbox1 ?? '',
        /^Return-Path: <bob@origin\.test>\nDelivered-To: alice@example\.com\nReceived: [\s\S]*\nSubject: for the inbox\n\nbody of for the inbox\n$/,
      )
      assert.equal(newMail(join(mail, 'alice')).length, 1)
    })

    it('dovecot-lda refuses a user its userdb does not know: exit 67 is 550 5.1.1 with the sysexits preset', async () => {
      const { reply } = await sendMail(haraka('dovecot-lda').port, {
        from: 'bob@origin.test',
        to: ['nobody-here@example.com'],
        message: message('x'),
      })
      assert.equal(
        `${reply?.code} ${reply?.text.replace(/ \([^)]+\)$/, '')}`,
        '550 5.1.1 no such user (EX_NOUSER, exit status 67)',
      )
    })

    it('doveadm user, as check_program, refuses a user dovecot does not know at RCPT and lets a known one through', async () => {
      const result = await sendMail(haraka('dovecot-lda').port, {
        from: 'bob@origin.test',
        to: ['nobody-here@checked.example.com', 'alice@checked.example.com'],
        message: message('checked'),
      })
      assert.equal(
        `${result.refused.get('nobody-here@checked.example.com')?.code} ${result.refused.get('nobody-here@checked.example.com')?.text}`,
        '550 5.1.1 nobody-here@checked.example.com: no such recipient here',
      )
      assert.equal(result.reply?.code, 250)
      assert.equal(newMail(join(mail, 'alice')).filter((text) => subjectOf(text) === 'checked').length, 1)
    })

    it("mlmmj answers a Bcc'd team+subscribe@ with its confirmation to the requester", async () => {
      const { reply } = await sendMail(haraka('mlmmj').port, {
        from: 'bob@origin.test',
        to: ['Team+Subscribe@lists.example.com'],
        message: crlf(['From: bob@origin.test', 'To: undisclosed-recipients:;', 'Subject: subscribe', '', '']),
      })
      assert.equal(reply?.code, 250, reply?.text)
      const confirmation = await waitFor('mlmmj confirmation', () =>
        sink.received.find((each) => each.to.includes('bob@origin.test')),
      )
      assert.match(confirmation.from, /^team\+bounces-confsub-[0-9a-f]+-bob=origin\.test@lists\.example\.com$/)
      const text = confirmation.data.toString('latin1')
      assert.match(text, /Confirm_subscription_to_team=40lists\.example\.com/)
      assert.match(text, /^Reply-To: team\+confsub-[0-9a-f]+-bob=origin\.test@lists\.example\.com$/m)
    })

    it('procmail files by the extension it is given', async () => {
      for (const rcpt of ['carol+receipts@example.com', 'carol@example.com']) {
        const { reply } = await sendMail(haraka('procmail').port, {
          from: 'bob@origin.test',
          to: [rcpt],
          message: message(rcpt),
        })
        assert.equal(reply?.code, 250, `${rcpt}: ${reply?.text}`)
      }
      assert.deepEqual(newMail(join(procmailDir, 'receipts')).map(subjectOf), ['carol+receipts@example.com'])
      assert.deepEqual(newMail(join(procmailDir, 'inbox')).map(subjectOf), ['carol@example.com'])
    })

    it("maildrop, started as root, delivers to a system user through the user's ~/.mailfilter, by extension", async () => {
      for (const rcpt of [`${name.toUpperCase()}+work@example.com`, `${name}@example.com`]) {
        const { reply } = await sendMail(haraka('maildrop').port, {
          from: 'bob@origin.test',
          to: [rcpt],
          message: message(rcpt),
        })
        assert.equal(reply?.code, 250, `${rcpt}: ${reply?.text}`)
      }
      const [filed] = newMail(join(home, 'Maildir', '.work'))
      assert.match(
        filed ?? '',
        new RegExp(
          `^Return-Path: <bob@origin\\.test>\\nDelivered-To: ${name.toUpperCase()}\\+work@example\\.com\\nReceived: [\\s\\S]*\\nSubject: ${name.toUpperCase()}\\+work@example\\.com\\n`,
        ),
      )
      assert.deepEqual(newMail(join(home, 'Maildir')).map(subjectOf), [`${name}@example.com`])
      const { reply } = await sendMail(haraka('maildrop').port, {
        from: 'bob@origin.test',
        to: ['no-such-user-here@example.com'],
        message: message('nobody'),
      })
      assert.equal(
        `${reply?.code} ${reply?.text.replace(/ \([^)]+\)$/, '')}`,
        '550 5.1.1 no such user (EX_NOUSER, exit status 67)',
      )
    })

    it("public-inbox-mda archives the list's mail, with the account's HOME, and keeps what its precheck refuses", async () => {
      const headers = (to: string, id: string): string[] => [
        'From: Bob <bob@origin.test>',
        `To: ${to}`,
        `Message-ID: <${id}@origin.test>`,
        'Date: Tue, 01 Dec 2026 10:00:00 +0000',
      ]
      const deliver = async (to: string, id: string, subject: string): Promise<string> => {
        const { reply } = await sendMail(haraka('public-inbox').port, {
          from: 'bob@origin.test',
          to: ['team@lists.example.com'],
          message: message(subject, headers(to, id)),
        })
        return `${reply?.code} ${reply?.text.replace(/ \([^)]+\)$/, '')}`
      }
      assert.equal(await deliver('team@lists.example.com', 'one', 'to the list'), '250 Message Queued')
      // Bcc'd: the precheck wants the list in To: or Cc:. Still 250: public-inbox-mda exits 0.
      assert.equal(await deliver('someone@example.org', 'two', 'not to the list'), '250 Message Queued')
      const archived = execFileSync('git', [
        '-c',
        'safe.directory=*',
        '--git-dir',
        join(inbox, 'git', '0.git'),
        'log',
        '--format=%s',
      ])
        .toString()
        .trim()
        .split('\n')
      assert.deepEqual(archived, ['to the list'])
      const kept = readdirSync(join(home, '.public-inbox', 'emergency', 'new')).map((file) =>
        subjectOf(readFileSync(join(home, '.public-inbox', 'emergency', 'new', file), 'latin1')),
      )
      assert.deepEqual(kept, ['not to the list'])
      const unknown = await sendMail(haraka('public-inbox').port, {
        from: 'bob@origin.test',
        to: ['other-list@lists.example.com'],
        message: message('no such list', headers('other-list@lists.example.com', 'three')),
      })
      assert.equal(
        `${unknown.reply?.code} ${unknown.reply?.text.replace(/ \([^)]+\)$/, '')}`,
        '550 5.1.1 no such user (EX_NOUSER, exit status 67)',
      )
    })

    it('warns at load that maildrop, with no user, runs as root, and says it for no other recipe', () => {
      assert.match(
        haraka('maildrop').log,
        /\[WARN\] \[-\] \[pipe_transport\] \S+pipe_transport\.ini \[maildrop\]: programs run as root: Haraka delivers as root and this instance sets no user/,
      )
      for (const recipe of ['mlmmj', 'procmail', 'public-inbox'])
        assert.doesNotMatch(haraka(recipe).log, /programs run as root/, recipe)
    })
  },
)
