// The delivery journal end to end. A retry of the same message runs only the recipients
// not yet delivered; a message delivered to all is answered 250 without a run; a client that hung
// up after the dot gets no second delivery; a retry while a run still goes is 4xx, never a second
// run; the journal survives a restart, is shared by cluster workers (local) and by two Harakas
// (Redis), and Redis stopping never turns into a 250 for an undelivered recipient.
import assert from 'node:assert/strict'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { sendAndDrop } from '../bench/drop-after-dot.js'
import { RedisServer } from '../journal/redis-server.js'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { waitForFile } from './processes.js'
import { sendMail, type SendResult } from './smtp.js'

/**
 * A program that records each run in runs.log, and fails or waits as files in its directory say:
 * temp-ADDRESS (exit 75 once, then the file is gone), perm-ADDRESS (exit 67), slow (sleep 2 s,
 * after touching started).
 */
function programIn(work: Scratch): string {
  return work.shell(
    'deliver',
    `cat > /dev/null
dir="${work.dir}"
for rcpt in "$@"; do
  if [ -e "$dir/temp-$rcpt" ]; then rm -f "$dir/temp-$rcpt"; echo "$INSTANCE $* failed" >> "$dir/runs.log"; exit 75; fi
  if [ -e "$dir/perm-$rcpt" ]; then echo "$INSTANCE $* failed" >> "$dir/runs.log"; exit 67; fi
done
if [ -e "$dir/slow" ]; then touch "$dir/started"; sleep 2; fi
echo "$INSTANCE $*" >> "$dir/runs.log"`,
  )
}

/** A partial failure is answered 550 here, as before DSNs (dsn.test.ts has partial_failure = bounce). */
function iniFor(program: string, journal: string): string {
  return `
[main]
program_name = ${program}
arguments = \${recipient}
code_preset = sysexits
partial_failure = reject
${journal}

[one]
domain = one.test
recipient_limit = 1

[two]
domain = two.test
`
}

/** The runs recorded since the last call, sorted (the runs of a transaction go at once). */
function runs(work: Scratch): string[] {
  return work.takeLines('runs.log').sort()
}

const HOSTS = ['one.test', 'two.test']
let seq = 0
/** A message no other test sends; a retry sends the same one again. */
const freshMessage = (): string =>
  crlf([`Message-ID: <journal-${process.pid}-${++seq}@client.test>`, 'Subject: journal', '', `body ${seq}`])

const reply = (result: SendResult): string =>
  result.reply ? `${result.reply.code} ${result.reply.text.replace(/\s*\([0-9A-F-]{36}\.\d+\)$/, '')}` : 'none'

/** Sends until the message is answered 250, as a sending MTA retries; returns every reply. */
async function retryUntilAccepted(port: number, to: string[], message: string, attempts = 20): Promise<string[]> {
  const replies: string[] = []
  for (let i = 0; i < attempts; i++) {
    const answer = reply(await sendMail(port, { from: 's@origin.test', to, message }))
    replies.push(answer)
    if (answer.startsWith('250')) return replies
    await sleep(500)
  }
  throw new Error(`never accepted: ${replies.join(' | ')}`)
}

describe('delivery journal, local', () => {
  const work = new Scratch()
  const journalDir = work.path('journal')
  let haraka: Haraka
  const send = async (to: string[], message: string): Promise<string> =>
    reply(await sendMail(haraka.port, { from: 's@origin.test', to, message }))

  before(async () => {
    haraka = await Haraka.start({
      hostList: HOSTS,
      ini: iniFor(programIn(work), `journal = local\njournal_directory = ${journalDir}`),
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('runs only the recipient that failed when the same message comes again, and nothing once all are delivered', async () => {
    const message = freshMessage()
    writeFileSync(work.path('temp-b@one.test'), '')
    assert.equal(
      await send(['a@one.test', 'b@one.test', 'c@two.test'], message),
      '450 4.3.0 temporary failure (EX_TEMPFAIL, exit status 75) (1 of 3 recipients not delivered: b@one.test)',
    )
    assert.deepEqual(runs(work), ['one a@one.test', 'one b@one.test failed', 'two c@two.test'])
    assert.equal(await send(['a@one.test', 'b@one.test', 'c@two.test'], message), '250 2.0.0 delivered to 3 recipients')
    assert.deepEqual(runs(work), ['one b@one.test'])
    assert.equal(
      await send(['a@one.test', 'b@one.test', 'c@two.test'], message),
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    )
    assert.deepEqual(runs(work), [])
    await haraka.waitForLog(
      /\[INFO\] .*\[pipe_transport\] transaction queue_id=\S+ recipients=3 runs=0 rcpt=a@one\.test,b@one\.test,c@two\.test reply="250 2\.0\.0 already delivered/,
    )
  })

  it('answers 550 naming the recipient when every one not delivered failed permanently', async () => {
    writeFileSync(work.path('perm-y@one.test'), '')
    assert.equal(
      await send(['x@one.test', 'y@one.test'], freshMessage()),
      '550 5.1.1 no such user (EX_NOUSER, exit status 67) (1 of 2 recipients not delivered: y@one.test)',
    )
    assert.deepEqual(runs(work), ['one x@one.test', 'one y@one.test failed'])
  })

  it('runs a message sent twice after its 250 once', async () => {
    const message = freshMessage()
    assert.equal(await send(['solo@two.test'], message), '250 Message Queued')
    assert.equal(
      await send(['solo@two.test'], message),
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    )
    assert.deepEqual(runs(work), ['two solo@two.test'])
  })

  it('delivers once to a client that hung up after the final dot and then retried', async () => {
    const message = freshMessage()
    await sendAndDrop(haraka.port, 's@origin.test', 'dropped@two.test', message)
    const replies = await retryUntilAccepted(haraka.port, ['dropped@two.test'], message)
    assert.equal(replies.at(-1), '250 2.0.0 already delivered (pipe_transport delivery journal)')
    assert.deepEqual(runs(work), ['two dropped@two.test'])
  })

  it('answers 4xx to a retry that comes while the first run still goes, and never runs it twice at once', async () => {
    const message = freshMessage()
    writeFileSync(work.path('slow'), '')
    const first = sendMail(haraka.port, { from: 's@origin.test', to: ['slow@two.test'], message })
    while (!existsSync(work.path('started'))) await sleep(20)
    assert.equal(
      await send(['slow@two.test'], message),
      '450 4.3.0 a delivery of this message is still running, try again later',
    )
    assert.equal(reply(await first), '250 Message Queued')
    work.take('slow')
    assert.equal(
      await send(['slow@two.test'], message),
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    )
    assert.deepEqual(runs(work), ['two slow@two.test'])
  })

  it('remembers across a restart of Haraka', async () => {
    const message = freshMessage()
    assert.equal(await send(['restart@two.test'], message), '250 Message Queued')
    await haraka.stop()
    haraka = await Haraka.start({
      hostList: HOSTS,
      ini: iniFor(programIn(work), `journal = local\njournal_directory = ${journalDir}`),
    })
    assert.equal(
      await send(['restart@two.test'], message),
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    )
    assert.deepEqual(runs(work), ['two restart@two.test'])
  })
})

/** A plugin that changes the message on every attempt: a banner at DATA, a header after it. */
const PER_ATTEMPT = `
exports.hook_data = function (next, connection) {
  connection.transaction.set_banner('scanned in attempt ' + connection.transaction.uuid)
  next()
}
exports.hook_data_post = function (next, connection) {
  connection.transaction.add_header('X-Scanned', connection.transaction.uuid)
  next()
}
`

describe('delivery journal, local, behind a plugin that changes the message on every attempt', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    const program = work.shell('keep', `cat > "${work.dir}/last.eml"\necho "$*" >> "${work.dir}/runs.log"`)
    haraka = await Haraka.start({
      hostList: HOSTS,
      plugins: ['per_attempt', 'rcpt_to.in_host_list', 'pipe_transport'],
      extraPlugins: { per_attempt: work.file('per_attempt.js', PER_ATTEMPT) },
      ini: iniFor(program, `journal = local\njournal_directory = ${work.path('journal')}`),
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('knows a retry by what the client sent, not by what the plugins made of it', async () => {
    const message = freshMessage()
    const send = async (): Promise<string> =>
      reply(await sendMail(haraka.port, { from: 's@origin.test', to: ['scanned@two.test'], message }))
    assert.equal(await send(), '250 Message Queued')
    const delivered = work.take('last.eml').toString()
    assert.match(delivered, /^X-Scanned: [0-9A-F-]{36}\.\d+$/m)
    assert.match(delivered, /scanned in attempt [0-9A-F-]{36}\.\d+/)
    assert.equal(await send(), '250 2.0.0 already delivered (pipe_transport delivery journal)')
    assert.deepEqual(runs(work), ['scanned@two.test'])
  })
})

describe('delivery journal, local, across a stop of Haraka', () => {
  const work = new Scratch()
  const journal = `journal = local\njournal_directory = ${work.path('journal')}`
  const startHaraka = (smtp: readonly string[] = []): Promise<Haraka> =>
    Haraka.start({ hostList: HOSTS, smtp, ini: iniFor(programIn(work), journal) })

  after(() => work.remove())

  it('SIGKILL right after a 250: the retry is answered "already delivered", with no second run', async () => {
    const message = freshMessage()
    const first = await startHaraka()
    try {
      assert.equal(
        reply(await sendMail(first.port, { from: 's@origin.test', to: ['killed@two.test'], message })),
        '250 Message Queued',
      )
      process.kill(first.pid, 'SIGKILL')
      await first.exit()
    } finally {
      await first.stop()
    }
    const second = await startHaraka()
    try {
      assert.equal(
        reply(await sendMail(second.port, { from: 's@origin.test', to: ['killed@two.test'], message })),
        '250 2.0.0 already delivered (pipe_transport delivery journal)',
      )
      assert.deepEqual(runs(work), ['two killed@two.test'])
    } finally {
      await second.stop()
    }
  })

  for (const [how, smtp] of [
    ['stopped (SIGINT)', []],
    ['stopped gracefully (graceful_shutdown)', ['graceful_shutdown=true', 'force_shutdown_timeout=10']],
  ] as const) {
    it(`${how} during a run: a retry after the restart runs at once, with no "still running"`, async () => {
      const message = freshMessage()
      writeFileSync(work.path('slow'), '')
      rmSync(work.path('started'), { force: true })
      const first = await startHaraka(smtp)
      try {
        const sending = sendMail(first.port, { from: 's@origin.test', to: ['stopped@two.test'], message }).catch(
          () => undefined,
        )
        await waitForFile(work.path('started'), 10_000, '')
        await first.stop()
        await sending
      } finally {
        await first.stop()
      }
      work.take('slow')
      const second = await startHaraka()
      try {
        assert.equal(
          reply(await sendMail(second.port, { from: 's@origin.test', to: ['stopped@two.test'], message })),
          '250 Message Queued',
        )
        // The first run was killed before it wrote its line.
        assert.deepEqual(runs(work), ['two stopped@two.test'])
      } finally {
        await second.stop()
      }
    })
  }
})

describe('delivery journal, local, in cluster mode', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({
      hostList: HOSTS,
      smtp: ['nodes=2'],
      ini: iniFor(programIn(work), `journal = local\njournal_directory = ${work.path('journal')}`),
    })
    for (const worker of [1, 2]) await haraka.waitForLog(new RegExp(`worker ${worker} listening on`))
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('runs a message that many connections send at once once, across both workers', async () => {
    const message = freshMessage()
    writeFileSync(work.path('slow'), '')
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => sendMail(haraka.port, { from: 's@origin.test', to: ['many@two.test'], message })),
    )
    work.take('slow')
    const answers = replies.map(reply)
    assert.equal(answers.filter((answer) => answer === '250 Message Queued').length, 1, answers.join(' | '))
    for (const answer of answers) {
      assert.ok(
        [
          '250 Message Queued',
          '450 4.3.0 a delivery of this message is still running, try again later',
          '250 2.0.0 already delivered (pipe_transport delivery journal)',
        ].includes(answer),
        answer,
      )
    }
    assert.deepEqual(await retryUntilAccepted(haraka.port, ['many@two.test'], message), [
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    ])
    assert.deepEqual(runs(work), ['two many@two.test'])
  })
})

describe('delivery journal shared through Redis', () => {
  const work = new Scratch()
  let redis: RedisServer
  let mx1: Haraka
  let mx2: Haraka

  before(async () => {
    redis = await RedisServer.start()
    const program = programIn(work)
    ;[mx1, mx2] = await Promise.all([
      Haraka.start({ hostList: HOSTS, ini: iniFor(program, `journal = ${redis.url}`) }),
      Haraka.start({ hostList: HOSTS, ini: iniFor(program, `journal = ${redis.url}\njournal_unavailable = defer`) }),
    ])
  })

  after(async () => {
    await Promise.all([mx1?.stop(), mx2?.stop()])
    await redis?.remove()
    work.remove()
  })

  it('lets the second MX answer 250 without a run for what the first delivered', async () => {
    const message = freshMessage()
    writeFileSync(work.path('temp-b@one.test'), '')
    assert.match(
      reply(await sendMail(mx1.port, { from: 's@origin.test', to: ['a@one.test', 'b@one.test'], message })),
      /^450 /,
    )
    assert.equal(
      reply(await sendMail(mx2.port, { from: 's@origin.test', to: ['a@one.test', 'b@one.test'], message })),
      '250 2.0.0 delivered to 2 recipients',
    )
    assert.equal(
      reply(await sendMail(mx1.port, { from: 's@origin.test', to: ['a@one.test', 'b@one.test'], message })),
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    )
    assert.deepEqual(runs(work), ['one a@one.test', 'one b@one.test', 'one b@one.test failed'])
  })

  it('with Redis stopped, delivers anyway or defers as journal_unavailable says, and is whole again once Redis is back', async () => {
    await redis.stop()
    const message = freshMessage()
    assert.equal(
      reply(await sendMail(mx1.port, { from: 's@origin.test', to: ['down@two.test'], message })),
      '250 Message Queued',
    )
    await mx1.waitForLog(
      /\[ERROR\] .*\[pipe_transport\] delivery journal \(redis 127\.0\.0\.1:\d+\/0\): begin failed: .*; delivering without it \(journal_unavailable = deliver\): a retry of a message already delivered may be delivered again$/m,
    )
    assert.equal(
      reply(await sendMail(mx2.port, { from: 's@origin.test', to: ['down@two.test'], message })),
      '450 4.3.0 pipe transport delivery journal unavailable, try again later',
    )
    assert.deepEqual(runs(work), ['two down@two.test'])
    await redis.start()
    const after = freshMessage()
    // The journal reconnects by itself, within a second or so; until then it defers, as told.
    const replies = await retryUntilAccepted(mx2.port, ['up@two.test'], after)
    assert.equal(replies.at(-1), '250 Message Queued')
    for (const early of replies.slice(0, -1))
      assert.equal(early, '450 4.3.0 pipe transport delivery journal unavailable, try again later')
    assert.equal(
      reply(await sendMail(mx1.port, { from: 's@origin.test', to: ['up@two.test'], message: after })),
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    )
    assert.deepEqual(runs(work), ['two up@two.test'])
  })

  it('answers the first message after Redis restarts 250, with no "offline" error', async () => {
    await redis.stop()
    // Long enough for the client's reconnection attempts to have backed off to their longest interval.
    await sleep(2000)
    await redis.start()
    assert.equal(
      reply(await sendMail(mx2.port, { from: 's@origin.test', to: ['back@two.test'], message: freshMessage() })),
      '250 Message Queued',
    )
    assert.deepEqual(runs(work), ['two back@two.test'])
    assert.doesNotMatch(mx2.log, /offline/i)
  })
})
