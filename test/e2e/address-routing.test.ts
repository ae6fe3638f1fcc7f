// Routes per address with route data, extensions, unquoted local parts, the original
// recipient behind haraka-plugin-aliases, the Delivered-To loop check and [unrouted] exceptions.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail, type SendResult } from './smtp.js'

const MESSAGE = crlf(['Subject: address routing', '', 'body'])

/** One program run as the recorder program saw it. */
interface Run {
  readonly instance: string
  readonly argv: string[]
  readonly env: Record<string, string>
  /** What the program read, up to Haraka's Received header (the lines pipe_transport put first). */
  readonly preface: string
}

/** A program that appends its instance, argv, environment and the start of its input to runs.jsonl. */
function recorder(work: Scratch): string {
  return work.node(
    'record',
    `const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('latin1')
  const run = { instance: process.env.INSTANCE, argv: process.argv.slice(2), env: process.env, preface: input.slice(0, input.indexOf('Received: ')) }
  require('fs').appendFileSync(${JSON.stringify(work.path('runs.jsonl'))}, JSON.stringify(run) + '\\n')
})`,
  )
}

/** The runs recorded since the last call. */
function runs(work: Scratch): Run[] {
  return work.takeLines('runs.jsonl').map((line) => JSON.parse(line) as Run)
}

/** Takes an other queue plugin's transactions: what pipe_transport leaves gets this answer. */
const OTHER_QUEUE = `
exports.hook_queue = function (next, connection) {
  if (connection.transaction.notes.get('queue.wants') === 'pipe_transport') return next()
  next(OK, 'taken by other_queue for ' + connection.transaction.rcpt_to.map((rcpt) => rcpt.address).join(' '))
}
`

/** The reply to the final dot (without the queue id), after each refused recipient's reply. */
const reply = (result: SendResult): string =>
  [
    ...[...result.refused].map(([rcpt, r]) => `${rcpt}: ${r.code} ${r.text}; `),
    result.reply ? `${result.reply.code} ${result.reply.text.replace(/\s*\([^)]+\)$/, '')}`.trimEnd() : 'no data',
  ].join('')

describe('routing by address', () => {
  const work = new Scratch()
  let haraka: Haraka
  let plain: Haraka
  const send = async (to: string[], message = MESSAGE, server = haraka): Promise<string> =>
    reply(await sendMail(server.port, { from: 's@origin.test', to, message }))

  before(async () => {
    const record = recorder(work)
    const queuePlugins = ['pipe_transport', 'other_queue']
    const extraPlugins = { other_queue: work.file('other_queue.js', OTHER_QUEUE) }
    const hostList = ['example.test', 'a.example.test', 'exact.test', 'anything.test', 'folded.test']
    const users = `
[users]
arguments = -d \${user} -m \${extension} -x \${mailbox} -r \${recipient} -o \${original_recipient} --data=\${route_data}
recipient_limit = 1
delivered_to = true
x_original_to = true

[users.address]
@example.test
`
    ;[haraka, plain] = await Promise.all([
      Haraka.start({
        plugins: ['aliases', 'rcpt_to.in_host_list', ...queuePlugins],
        extraPlugins,
        hostList,
        config: {
          'aliases.json': JSON.stringify({ 'info@example.test': { action: 'alias', to: 'alice@example.test' } }),
        },
        ini: `
[main]
program_name = ${record}
recipient_delimiter = +

[rt]
arguments = --queue \${route_data} --action correspond

[rt.address]
support@example.test = general
Billing@Example.test = billing

[rt-comment]
arguments = --queue \${route_data} --action comment

[rt-comment.address]
support-comment@example.test = general
${users}
[wild]
domain = *.example.test

[exact]
domain = exact.test

[catchall]
domain = *

[folded]
domain = folded.test
arguments = \${user} \${recipient}
lowercase_local_part = true

[folded.env]
USER_ADDR = <\${user}@\${domain}> for \${instance}

[accepting]
check_recipient = true

[accepting.address]
desk@accept.test = front

[unrouted]
postmaster@example.test
abuse@
`,
      }),
      // Without recipient_delimiter an extension is part of the user.
      Haraka.start({
        plugins: ['rcpt_to.in_host_list', ...queuePlugins],
        extraPlugins,
        hostList,
        ini: `[main]\nprogram_name = ${record}\n${users}`,
      }),
    ])
  })

  after(async () => {
    await Promise.all([haraka?.stop(), plain?.stop()])
    work.remove()
  })

  it('takes the whole address first, then the address without its extension, then @domain, then domain entries', async () => {
    const expected: [string, string, string[]][] = [
      ['support@example.test', 'rt', ['--queue', 'general', '--action', 'correspond']],
      ['SUPPORT+urgent@Example.TEST', 'rt', ['--queue', 'general', '--action', 'correspond']],
      ['billing@example.test', 'rt', ['--queue', 'billing', '--action', 'correspond']],
      ['support-comment@example.test', 'rt-comment', ['--queue', 'general', '--action', 'comment']],
      ['x@a.example.test', 'wild', []],
      ['x@exact.test', 'exact', []],
      ['x@anything.test', 'catchall', []],
    ]
    for (const [rcpt] of expected) assert.equal(await send([rcpt]), '250 Message Queued', rcpt)
    assert.deepEqual(
      runs(work).map((run) => [run.env['RECIPIENT'], run.instance, run.argv]),
      expected.map(([rcpt, instance, argv]) => [rcpt, instance, argv]),
    )
    assert.equal(await send(['other@example.test']), '250 Message Queued')
    assert.deepEqual(
      runs(work).map((run) => run.instance),
      ['users'],
    )
  })

  it('gives the route data in ${route_data} and ROUTE_DATA, empty for a domain entry', async () => {
    assert.equal(await send(['billing@example.test']), '250 Message Queued')
    assert.equal(await send(['x@exact.test']), '250 Message Queued')
    assert.deepEqual(
      runs(work).map((run) => [run.instance, run.env['ROUTE_DATA']]),
      [
        ['rt', 'billing'],
        ['exact', ''],
      ],
    )
  })

  it('splits the extension off with recipient_delimiter, and keeps it in the user without', async () => {
    assert.equal(await send(['alice+work@example.test']), '250 Message Queued')
    assert.equal(await send(['alice@example.test']), '250 Message Queued')
    assert.equal(await send(['alice+work@example.test'], MESSAGE, plain), '250 Message Queued')
    const [work1, inbox, whole] = runs(work)
    assert.deepEqual(work1?.argv.slice(0, 6), ['-d', 'alice', '-m', 'work', '-x', 'alice+work'])
    assert.deepEqual(
      [work1?.env['USER'], work1?.env['EXTENSION'], work1?.env['LOCAL']],
      ['alice', 'work', 'alice+work'],
    )
    assert.deepEqual(inbox?.argv.slice(0, 6), ['-d', 'alice', '-m', '', '-x', 'alice'])
    assert.deepEqual(whole?.argv.slice(0, 6), ['-d', 'alice+work', '-m', '', '-x', 'alice+work'])
    assert.deepEqual([whole?.env['USER'], whole?.env['EXTENSION']], ['alice+work', ''])
  })

  it('gives quoted local parts unquoted to the program, and quoted in headers', async () => {
    assert.equal(await send(['"john smith"@example.test']), '250 Message Queued')
    const [run] = runs(work)
    assert.deepEqual(run?.argv.slice(0, 8), [
      '-d',
      'john smith',
      '-m',
      '',
      '-x',
      'john smith',
      '-r',
      'john smith@example.test',
    ])
    assert.equal(run?.env['RECIPIENT'], 'john smith@example.test')
    assert.equal(run?.preface, 'X-Original-To: "john smith"@example.test\nDelivered-To: "john smith"@example.test\n')
  })

  it('gives the address the client sent as the original recipient when haraka-plugin-aliases rewrote it', async () => {
    assert.equal(await send(['info@example.test']), '250 Message Queued')
    const [run] = runs(work)
    assert.deepEqual(run?.argv, [
      '-d',
      'alice',
      '-m',
      '',
      '-x',
      'alice',
      '-r',
      'alice@example.test',
      '-o',
      'info@example.test',
      '--data=',
    ])
    assert.equal(run?.env['ORIGINAL_RECIPIENT'], 'info@example.test')
    assert.equal(run?.env['RECIPIENT'], 'alice@example.test')
    assert.equal(run?.preface, 'X-Original-To: info@example.test\nDelivered-To: alice@example.test\n')
  })

  it('refuses a message that already has Delivered-To for the recipient with 550 5.4.6, without running the program', async () => {
    const looping = crlf(['Delivered-To: Alice@example.test', 'Subject: loop', '', 'body'])
    assert.equal(await send(['alice@example.test'], looping), '550 5.4.6 mail forwarding loop for alice@example.test')
    assert.deepEqual(runs(work), [])
    assert.equal(await send(['bob@example.test'], looping), '250 Message Queued')
    assert.deepEqual(
      runs(work).map((run) => run.env['RECIPIENT']),
      ['bob@example.test'],
    )
    await haraka.waitForLog(
      /\[WARN\] .*delivery .*ended="?looped"? .*reply="550 5\.4\.6 mail forwarding loop for alice@example\.test"/,
    )
  })

  it('leaves [unrouted] addresses to the other queue plugins, though @domain and the catch-all would take them', async () => {
    assert.equal(await send(['postmaster@example.test']), '250 taken by other_queue for postmaster@example.test')
    assert.equal(await send(['Abuse@exact.test']), '250 taken by other_queue for Abuse@exact.test')
    assert.equal(await send(['abuse+x@anything.test']), '250 taken by other_queue for abuse+x@anything.test')
    assert.deepEqual(runs(work), [])
    // They are another route, so they do not join a pipe_transport transaction.
    assert.equal(
      await send(['x@exact.test', 'postmaster@example.test']),
      'postmaster@example.test: 452 4.5.3 postmaster@example.test is delivered separately from x@exact.test, send it in another transaction; 250 Message Queued',
    )
    assert.deepEqual(
      runs(work).map((run) => run.instance),
      ['exact'],
    )
  })

  it('lower-cases the local part in macros and environment with lowercase_local_part, and expands macros in [NAME.env]', async () => {
    assert.equal(await send(['Bob.Smith@Folded.test']), '250 Message Queued')
    const [run] = runs(work)
    assert.deepEqual(run?.argv, ['bob.smith', 'bob.smith@Folded.test'])
    assert.equal(run?.env['USER_ADDR'], '<bob.smith@folded.test> for folded')
    assert.equal(run?.env['LOCAL'], 'bob.smith')
  })

  it('accepts its address routes itself with check_recipient', async () => {
    assert.equal(await send(['desk@accept.test']), '250 Message Queued')
    assert.equal(
      await send(['other@accept.test']),
      'other@accept.test: 550 I cannot deliver mail for <other@accept.test>; no data',
    )
    assert.deepEqual(
      runs(work).map((run) => [run.instance, run.env['ROUTE_DATA']]),
      [['accepting', 'front']],
    )
  })
})
