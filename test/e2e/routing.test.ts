// Whole transactions across instances, wildcard domains, recipient limits,
// check_recipient, cooperation with other queue plugins, relayed mail and cluster mode.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { survivorsAfter } from './processes.js'
import { sendMail, type SendResult } from './smtp.js'

const MESSAGE = crlf(['Subject: routing', '', 'body'])

/** Appends "INSTANCE recipients... ppid=PPID" to a log, so tests see every run and its recipients. */
function recorder(work: Scratch): string {
  return work.shell('record', `cat > /dev/null\necho "$INSTANCE $* ppid=$PPID" >> "${work.path('runs.log')}"`)
}

/** Runs recorded since the last call, without the ppid, sorted: a transaction's runs go at once. */
function runs(work: Scratch): string[] {
  return work
    .takeLines('runs.log')
    .map((line) => line.replace(/ ppid=\d+$/, ''))
    .sort()
}

const summary = (result: SendResult): string[] => [
  ...[...result.refused].map(([rcpt, reply]) => `${rcpt}: ${reply.code} ${reply.text}`),
  result.reply
    ? `final: ${result.reply.code} ${result.reply.text.replace(/\s*\([^)]+\)$/, '')}`.trimEnd()
    : 'final: none',
]

/** A plugin that slips an unrouted recipient past every RCPT check, for sneak.test, after the data. */
const SNEAK = `
const { Address } = require('@haraka/email-address')
exports.hook_data_post = function (next, connection) {
  const txn = connection.transaction
  if (txn.rcpt_to.some((rcpt) => rcpt.host === 'sneak.test')) txn.rcpt_to.push(new Address('<slipped@unrouted.test>'))
  next()
}
`

/** A plugin that claims transactions for claimed.test and contested.test, as smtp_forward would. */
const CLAIMER = `
exports.hook_rcpt_ok = function (next, connection, rcpt) {
  const notes = connection.transaction.notes
  if (['claimed.test', 'contested.test'].includes(rcpt.host) && !notes.get('queue.wants')) notes.set('queue.wants', 'claimer')
  next()
}
exports.hook_queue = function (next, connection) {
  const wants = connection.transaction.notes.get('queue.wants')
  connection.loginfo(this, 'queue.wants=' + wants)
  if (wants !== 'claimer') return next()
  next(OK, 'taken by claimer')
}
`

for (const order of ['after in_host_list', 'before in_host_list'] as const) {
  describe(`routing, pipe_transport listed ${order}`, () => {
    const work = new Scratch()
    let haraka: Haraka
    const send = async (to: string[]): Promise<string[]> =>
      summary(await sendMail(haraka.port, { from: 's@origin.test', to, message: MESSAGE }))

    before(async () => {
      const record = recorder(work)
      const queuePlugins = ['sneak', 'claimer', 'pipe_transport']
      haraka = await Haraka.start({
        hostList: [
          'one.test',
          'sneak.test',
          'two.test',
          'unrouted.test',
          'limited.test',
          'wild.test',
          'a.wild.test',
          'b.wild.test',
          'c.deep.wild.test',
          'deep.wild.test',
          'claimed.test',
          'contested.test',
        ],
        plugins:
          order === 'after in_host_list'
            ? ['rcpt_to.in_host_list', ...queuePlugins]
            : [...queuePlugins, 'rcpt_to.in_host_list'],
        extraPlugins: { claimer: work.file('claimer.js', CLAIMER), sneak: work.file('sneak.js', SNEAK) },
        ini: `
[main]
program_name = ${record}
arguments = \${recipient}

[one]
domain = one.test sneak.test

[two]
domain = two.test

[limited]
domain = limited.test
recipient_limit = 1

[exact]
domain = wild.test a.wild.test

[sub]
domain = *.wild.test

[deeper]
domain = *.deep.wild.test

[contested]
domain = contested.test
`,
      })
    })

    after(async () => {
      await haraka?.stop()
      work.remove()
    })

    it('routes exact domains first, then the longest wildcard', async () => {
      for (const rcpt of ['x@wild.test', 'x@a.wild.test', 'x@b.wild.test', 'x@c.deep.wild.test', 'x@deep.wild.test']) {
        assert.deepEqual(await send([rcpt]), ['final: 250 Message Queued'], rcpt)
      }
      assert.deepEqual(runs(work), [
        'deeper x@c.deep.wild.test',
        'exact x@a.wild.test',
        'exact x@wild.test',
        'sub x@b.wild.test',
        'sub x@deep.wild.test',
      ])
    })

    it('defers an unrouted recipient after a routed one with 452 4.5.3, and delivers the rest', async () => {
      assert.deepEqual(await send(['a@one.test', 'b@unrouted.test', 'c@one.test']), [
        'b@unrouted.test: 452 4.5.3 b@unrouted.test is delivered separately from a@one.test, send it in another transaction',
        'final: 250 Message Queued',
      ])
      assert.deepEqual(runs(work), ['one a@one.test c@one.test'])
    })

    it('defers a routed recipient after an unrouted one, and never runs the program for the rest', async () => {
      assert.deepEqual(await send(['b@unrouted.test', 'a@one.test']), [
        'a@one.test: 452 4.5.3 a@one.test is delivered separately from b@unrouted.test, send it in another transaction',
        // Haraka's own answer when no queue plugin takes a transaction.
        'final: 451',
      ])
      assert.deepEqual(runs(work), [])
    })

    it('delivers the recipients of several instances in one transaction, one run per instance', async () => {
      assert.deepEqual(await send(['a@two.test', 'b@one.test', 'c@two.test']), ['final: 250 Message Queued'])
      assert.deepEqual(runs(work), ['one b@one.test', 'two a@two.test c@two.test'])
    })

    it('recipient_limit = 1 gives every recipient its own program run, in one transaction', async () => {
      assert.deepEqual(await send(['a@limited.test', 'b@limited.test', 'c@limited.test']), [
        'final: 250 Message Queued',
      ])
      assert.deepEqual(runs(work), ['limited a@limited.test', 'limited b@limited.test', 'limited c@limited.test'])
    })

    it('answers 450 and pipes nothing when an unrouted recipient is still there at queue time', async () => {
      assert.deepEqual(await send(['a@sneak.test']), [
        'final: 450 4.3.0 pipe transport: some recipients are delivered by other means, send them separately',
      ])
      await haraka.waitForLog(
        /\[ERROR\] .*\[pipe_transport\] recipients slipped@unrouted\.test are not routed, beside routed ones; refusing to deliver part of the transaction/,
      )
      // The transaction's line names every recipient, and which were not routed.
      await haraka.waitForLog(
        /\[WARN\] .*\[pipe_transport\] transaction queue_id=\S+ recipients=2 runs=0 rcpt=a@sneak\.test,slipped@unrouted\.test reply="450 4\.3\.0 pipe transport: some recipients are delivered by other means, send them separately" unrouted=slipped@unrouted\.test failed=a@sneak\.test,slipped@unrouted\.test/,
      )
      assert.deepEqual(runs(work), [])
    })

    it('claims its transactions through queue.wants, and leaves those another plugin claimed', async () => {
      assert.deepEqual(await send(['a@one.test']), ['final: 250 Message Queued'])
      await haraka.waitForLog(/\[claimer\] queue\.wants=pipe_transport/)
      // contested.test is routed here too, but the claimer, listed first, claimed it first.
      assert.deepEqual(await send(['a@contested.test']), ['final: 250 taken by claimer'])
      // A routed recipient does not join a transaction another plugin has claimed.
      assert.deepEqual(await send(['x@claimed.test', 'a@one.test']), [
        'a@one.test: 452 4.5.3 a@one.test is delivered separately from x@claimed.test, send it in another transaction',
        'final: 250 taken by claimer',
      ])
      assert.deepEqual(runs(work), ['one a@one.test'])
    })
  })
}

describe('catch-all, check_recipient and relayed mail', () => {
  const work = new Scratch()
  const RELAY_EVERYONE = `exports.hook_connect = function (next, connection) { connection.relaying = true; next() }\n`
  let plain: Haraka
  let relayed: Haraka
  let relayedOff: Haraka

  before(async () => {
    const record = recorder(work)
    const ini = (main: string): string => `
[main]
program_name = ${record}
arguments = \${recipient}
${main}

[exact]
domain = exact.test

[accepting]
domain = accepting.test
check_recipient = true

[everything]
domain = *
`
    ;[plain, relayed, relayedOff] = await Promise.all([
      Haraka.start({ hostList: ['exact.test', 'any.test'], ini: ini('') }),
      Haraka.start({
        plugins: ['relay_everyone', 'pipe_transport'],
        extraPlugins: { relay_everyone: work.file('relay_everyone.js', RELAY_EVERYONE) },
        ini: ini(''),
      }),
      Haraka.start({
        plugins: ['relay_everyone', 'pipe_transport'],
        extraPlugins: { relay_everyone: work.file('relay_everyone.js', RELAY_EVERYONE) },
        // Haraka's outbound queues relayed mail; disabled, it never tries to send it anywhere.
        config: { 'outbound.ini': 'disabled=true' },
        ini: ini('enable_outbound = false'),
      }),
    ])
  })

  after(async () => {
    await Promise.all([plain?.stop(), relayed?.stop(), relayedOff?.stop()])
    work.remove()
  })

  const send = async (haraka: Haraka, to: string[]): Promise<string[]> =>
    summary(await sendMail(haraka.port, { from: 's@origin.test', to, message: MESSAGE }))

  it('sends every other domain to the catch-all, after exact entries', async () => {
    assert.deepEqual(await send(plain, ['x@exact.test']), ['final: 250 Message Queued'])
    assert.deepEqual(await send(plain, ['x@any.test']), ['final: 250 Message Queued'])
    assert.deepEqual(runs(work), ['everything x@any.test', 'exact x@exact.test'])
  })

  it('check_recipient accepts its domains with no other rcpt plugin; others stay refused', async () => {
    assert.deepEqual(await send(plain, ['x@accepting.test']), ['final: 250 Message Queued'])
    // Routed to the catch-all, which does not accept recipients itself, and not in host_list.
    assert.deepEqual(await send(plain, ['x@elsewhere.test']), [
      'x@elsewhere.test: 550 I cannot deliver mail for <x@elsewhere.test>',
      'final: none',
    ])
    assert.deepEqual(runs(work), ['accepting x@accepting.test'])
  })

  it('delivers relayed mail through queue_outbound by default', async () => {
    assert.deepEqual(await send(relayed, ['x@exact.test']), ['final: 250 Message Queued'])
    assert.deepEqual(runs(work), ['exact x@exact.test'])
  })

  it("with enable_outbound = false leaves relayed mail to Haraka's outbound", async () => {
    assert.deepEqual(await send(relayedOff, ['x@exact.test', 'y@elsewhere.test']), ['final: 250 Message Queued'])
    assert.deepEqual(runs(work), [])
    assert.match(relayedOff.log, /\[outbound\]|outbound/)
  })
})

describe('cluster mode', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({
      hostList: ['cluster.test'],
      smtp: ['nodes=2'],
      ini: `[cluster]\nprogram_name = ${recorder(work)}\narguments = \${recipient}\ndomain = cluster.test\n`,
    })
    // The master accepts as soon as one worker listens; until the other does, it gets every connection.
    for (const worker of [1, 2]) await haraka.waitForLog(new RegExp(`worker ${worker} listening on`))
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('delivers from each of two workers, and none is left after Haraka stops', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        sendMail(haraka.port, { from: 's@origin.test', to: [`r${i}@cluster.test`], message: MESSAGE }),
      ),
    )
    assert.deepEqual(
      results.map((r) => r.reply?.code),
      Array(8).fill(250),
    )
    const lines = work.take('runs.log').toString().trim().split('\n')
    assert.equal(lines.length, 8)
    // A program's parent is the worker that delivered it.
    const workers = new Set(lines.map((line) => Number(/ppid=(\d+)/.exec(line)?.[1])))
    assert.equal(workers.size, 2, `programs ran under two workers: ${[...workers].join(', ')}`)
    assert.ok(![...workers].includes(haraka.pid), 'the cluster master delivers nothing')
    await haraka.stop()
    // Workers notice the master is gone and end by themselves.
    assert.deepEqual(await survivorsAfter([...workers]), [])
  })
})
