// Every recipe in docs/recipes.md, as written there, in a real Haraka. Each program is replaced
// by a stand-in that records the argv, environment and preface lines it gets; `user`, `group` and
// `directory` are dropped (their accounts and folders belong to the real installations).
// dovecot-lda, mlmmj and procmail also run for real in real-programs.test.ts.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { documentedRecipes } from './documented-recipes.js'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

interface Run {
  readonly program: string
  readonly argv: string[]
  readonly env: Record<string, string>
  /** What the program read before Haraka's Received header: the lines pipe_transport put first. */
  readonly preface: string
}

/** What a recipe must give for a recipient: the program, its argv, and some of its environment. */
interface Expectation {
  readonly to: string
  readonly program: string
  readonly argv: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  readonly preface?: string
}

const RT = '/usr/bin/rt-mailgate'
const RT_URL = ['--timeout', '110', '--url', 'https://rt.example.com/']
const MAILMAN = '/usr/lib/mailman/mail/mailman'

/** Per recipe (as docs/recipes.md's `<!-- recipe: NAME -->` markers name them), the recipients it must route. */
const EXPECTED: Readonly<Record<string, readonly Expectation[]>> = {
  'request-tracker': [
    {
      to: 'support@example.com',
      program: RT,
      argv: ['--queue', 'general', '--action', 'correspond', '--extension', 'ticket', ...RT_URL],
      env: { EXTENSION: '' },
    },
    {
      to: 'support+123@example.com',
      program: RT,
      argv: ['--queue', 'general', '--action', 'correspond', '--extension', 'ticket', ...RT_URL],
      env: { EXTENSION: '123' },
    },
    {
      to: 'billing-comment@example.com',
      program: RT,
      argv: ['--queue', 'billing', '--action', 'comment', '--extension', 'ticket', ...RT_URL],
    },
  ],
  mailman2: [
    { to: 'team@lists.example.com', program: MAILMAN, argv: ['post', 'team'] },
    ...['admin', 'bounces', 'confirm', 'join', 'leave', 'owner', 'request', 'subscribe', 'unsubscribe'].map(
      (command) => ({
        to: `team-${command}@lists.example.com`,
        program: MAILMAN,
        argv: [command, 'team'],
      }),
    ),
  ],
  sympa: [
    {
      to: 'team@sympa.example.com',
      program: '/usr/lib/sympa/bin/queue',
      argv: ['team@sympa.example.com'],
      preface: 'Return-Path: <bob@origin.test>\n',
    },
    {
      to: 'Team-Request@sympa.example.com',
      program: '/usr/lib/sympa/bin/queue',
      argv: ['team-request@sympa.example.com'],
    },
    { to: 'team-owner@sympa.example.com', program: '/usr/lib/sympa/bin/bouncequeue', argv: ['team@sympa.example.com'] },
  ],
  mlmmj: [
    {
      to: 'Team+Subscribe@lists.example.com',
      program: '/usr/bin/mlmmj-receive',
      argv: ['-F', '-L', '/var/spool/mlmmj/team/'],
      env: { EXTENSION: 'subscribe', LOCAL: 'team+subscribe' },
      preface:
        'Return-Path: <bob@origin.test>\nX-Original-To: Team+Subscribe@lists.example.com\nDelivered-To: Team+Subscribe@lists.example.com\n',
    },
  ],
  schleuder: [
    { to: 'team@schleuder.example.com', program: '/usr/bin/schleuder', argv: ['work', 'team@schleuder.example.com'] },
  ],
  'dovecot-lda': [
    {
      to: 'alice+work@example.com',
      program: '/usr/lib/dovecot/dovecot-lda',
      argv: ['-e', '-f', 'bob@origin.test', '-d', 'alice@example.com', '-m', 'work', '-a', 'alice+work@example.com'],
      preface: 'Return-Path: <bob@origin.test>\nDelivered-To: alice+work@example.com\n',
    },
    {
      to: 'alice@example.com',
      program: '/usr/lib/dovecot/dovecot-lda',
      argv: ['-e', '-f', 'bob@origin.test', '-d', 'alice@example.com', '-m', '', '-a', 'alice@example.com'],
    },
  ],
  procmail: [
    {
      to: 'carol+receipts@example.com',
      program: '/usr/bin/procmail',
      argv: ['-m', '/etc/procmail/folders.rc', 'receipts'],
    },
  ],
  maildrop: [
    {
      to: 'Dave+x@example.com',
      program: '/usr/bin/maildrop',
      argv: ['-d', 'dave', 'x', 'dave+x@example.com', 'dave', 'example.com', 'bob@origin.test'],
      preface: 'Return-Path: <bob@origin.test>\nDelivered-To: Dave+x@example.com\n',
    },
  ],
  'public-inbox': [
    {
      to: 'Team@Lists.example.com',
      program: '/usr/bin/public-inbox-mda',
      argv: [],
      env: { ORIGINAL_RECIPIENT: 'Team@Lists.example.com' },
    },
  ],
  redmine: [
    {
      to: 'app@redmine.example.com',
      program: '/usr/local/bin/rdm-mailhandler.rb',
      argv: [
        '--url',
        'https://redmine.example.com',
        '--key-file',
        '/etc/redmine/mail.key',
        '--project',
        'mobile-app',
        '--unknown-user',
        'accept',
        '--no-permission-check',
      ],
    },
  ],
  znuny: [
    {
      to: 'invoices@example.com',
      program: '/opt/znuny/bin/otrs.Console.pl',
      argv: ['Maint::PostMaster::Read', '--target-queue', 'Finance'],
    },
  ],
  zammad: [
    {
      to: 'sales@example.com',
      program: '/usr/bin/zammad',
      argv: ['run', 'rails', 'r', 'Channel::Driver::MailStdin.new(Channel.find(4))'],
    },
  ],
  discourse: [
    { to: 'anyone@forum.example.com', program: '/usr/local/bin/receive-mail', argv: ['anyone@forum.example.com'] },
  ],
}

describe('the recipes of docs/recipes.md', () => {
  const work = new Scratch()
  const recipes = documentedRecipes()
  const harakas = new Map<string, Haraka>()

  /** A stand-in for `program` that records each run in runs.jsonl. */
  const standIn = (program: string): string =>
    work.node(
      `stand-in-${program.replaceAll('/', '_')}`,
      `const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('latin1')
  const run = { program: ${JSON.stringify(program)}, argv: process.argv.slice(2), env: process.env, preface: input.slice(0, input.indexOf('Received: ')) }
  require('fs').appendFileSync(${JSON.stringify(work.path('runs.jsonl'))}, JSON.stringify(run) + '\\n')
})`,
    )

  before(async () => {
    const started = [...recipes].map(async ([name, ini]) => {
      const local = ini
        .replace(/^program_name = (.*)$/gm, (_line, program: string) => `program_name = ${standIn(program.trim())}`)
        .replace(/^(user|group) = .*$/gm, '')
        .replace(/^directory = .*$/gm, `directory = ${work.dir}`)
      harakas.set(name, await Haraka.start({ ini: local, hostList: ['example.com'] }))
    })
    await Promise.all(started)
  })

  after(async () => {
    await Promise.all([...harakas.values()].map((haraka) => haraka.stop()))
    work.remove()
  })

  it('docs/recipes.md has exactly the recipes this test knows', () => {
    assert.deepEqual([...recipes.keys()].sort(), Object.keys(EXPECTED).sort())
  })

  for (const [name, expectations] of Object.entries(EXPECTED)) {
    it(`${name}: each recipient reaches its program with the argv and environment the recipe gives`, async () => {
      const haraka = harakas.get(name)
      assert.ok(haraka, `docs/recipes.md has no recipe ${name}`)
      for (const expected of expectations) {
        const { reply } = await sendMail(haraka.port, {
          from: 'bob@origin.test',
          to: [expected.to],
          message: crlf([`Subject: ${name}`, '', 'body']),
        })
        assert.equal(reply?.code, 250, `${expected.to}: ${reply?.code} ${reply?.text}`)
        const runs = work
          .take('runs.jsonl')
          .toString()
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Run)
        assert.equal(runs.length, 1, `${expected.to}: one run`)
        const [run] = runs
        assert.deepEqual([run?.program, run?.argv], [expected.program, expected.argv], expected.to)
        for (const [key, value] of Object.entries(expected.env ?? {}))
          assert.equal(run?.env[key], value, `${expected.to}: ${key}`)
        if (expected.preface !== undefined) assert.equal(run?.preface, expected.preface, `${expected.to}: preface`)
      }
    })
  }

  it('schleuder: the [unrouted] postmaster@ and abuse@ are left to other plugins', async () => {
    const haraka = harakas.get('schleuder')
    assert.ok(haraka)
    const result = await sendMail(haraka.port, {
      from: 'bob@origin.test',
      to: ['postmaster@schleuder.example.com', 'abuse@schleuder.example.com'],
      message: crlf(['Subject: x', '', 'x']),
    })
    // No instance accepts them (check_recipient), and no other rcpt plugin does here.
    assert.deepEqual(
      [...result.refused.values()].map((reply) => reply.code),
      [550, 550],
    )
    assert.equal(work.take('runs.jsonl').length, 0)
  })
})
