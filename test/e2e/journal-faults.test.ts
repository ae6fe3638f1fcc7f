// The local delivery journal when something goes wrong under a running Haraka: its store
// overwritten with zeros, cut short, or its lock file garbled, and the wall clock stepped during
// a run. Each costs at most a deferral or a run without the journal and a line in the log; Haraka
// keeps serving, and the journal works again by itself.
import assert from 'node:assert/strict'
import { closeSync, existsSync, openSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fakeTimeEnvironment } from '../journal/fake-time.js'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail, type SendResult } from './smtp.js'

const HOST = 'faults.test'
let seq = 0
const freshMessage = (): string =>
  crlf([`Message-ID: <faults-${process.pid}-${++seq}@client.test>`, 'Subject: faults', '', `body ${seq}`])
const reply = (result: SendResult): string =>
  result.reply ? `${result.reply.code} ${result.reply.text.replace(/\s*\([0-9A-F-]{36}\.\d+\)$/, '')}` : 'none'

/** A program that records its run, and takes 3 s when the file `slow` exists (after touching `started`). */
function programIn(work: Scratch): string {
  return work.shell(
    'deliver',
    `cat > /dev/null
if [ -e "${work.dir}/slow" ]; then touch "${work.dir}/started"; sleep 3; fi
echo "$*" >> "${work.dir}/runs.log"`,
  )
}

const iniFor = (program: string, journalDirectory: string): string => `
[main]
journal = local
journal_directory = ${journalDirectory}

[faults]
program_name = ${program}
arguments = \${recipient}
domain = ${HOST}
`

function overwrite(file: string, bytes: Buffer): void {
  const fd = openSync(file, 'r+')
  try {
    writeSync(fd, bytes, 0, bytes.length, 0)
  } finally {
    closeSync(fd)
  }
}

describe('local journal: its store damaged under a running Haraka', () => {
  const work = new Scratch()
  let haraka: Haraka
  const send = async (message = freshMessage(), to = 'x@faults.test'): Promise<string> =>
    reply(await sendMail(haraka.port, { from: 's@origin.test', to: [to], message }))

  before(async () => {
    haraka = await Haraka.start({ hostList: [HOST], ini: iniFor(programIn(work), work.path('journal')) })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  for (const [what, damage, died] of [
    ['zeros over data.mdb', (file: string) => overwrite(file, Buffer.alloc(8192)), /was killed by SIGABRT/],
    // Noticed before the next transaction reads it; or, should a transaction be reading it at that
    // moment, a SIGBUS of the journal process.
    [
      'data.mdb cut short',
      (file: string) => truncateSync(file, 4096),
      /data\.mdb shrank from \d+ to 4096 bytes|was killed by SIGBUS/,
    ],
  ] as const) {
    it(`${what}: a 250 or 450, a WARN, the store moved aside, and Haraka serving on`, async () => {
      const asideBefore = movedAside(work.path('journal')).length
      for (let i = 0; i < 5; i++) assert.equal(await send(), '250 Message Queued')
      const logFrom = haraka.log.length
      damage(work.path('journal/data.mdb'))
      assert.match(await send(), /^(250 Message Queued|450 4\.3\.0 pipe transport delivery journal unavailable)/)
      await logAfter(haraka, logFrom, new RegExp(`\\[WARN\\] .*\\[pipe_transport\\] .*(${died.source})`))
      await logAfter(
        haraka,
        logFrom,
        /\[WARN\] .*\[pipe_transport\] delivery journal \(local .*\/journal\): the store was damaged \(reading it crashed a process \(SIG[A-Z]+\)\); moved it to .*journal\.damaged-/,
      )
      assert.equal(movedAside(work.path('journal')).length, asideBefore + 1)
      // Serving on, with a working journal: a retry of a message is answered from the new store.
      const message = freshMessage()
      assert.equal(await send(message, 'again@faults.test'), '250 Message Queued')
      assert.equal(
        await send(message, 'again@faults.test'),
        '250 2.0.0 already delivered (pipe_transport delivery journal)',
      )
      assert.ok(haraka.running)
    })
  }

  it('a garbled lock.mdb: given up after a few failures with one ERROR, opened anew, and the journal works again', async () => {
    assert.equal(await send(), '250 Message Queued')
    const lock = work.path('journal/lock.mdb')
    overwrite(lock, Buffer.alloc(statSync(lock).size, 0xff))
    const message = freshMessage()
    const replies: string[] = []
    for (let attempt = 0; attempt < 40; attempt++) {
      replies.push(await send(message, 'lock@faults.test'))
      if (replies.at(-1)?.includes('already delivered')) break
      await sleep(100)
    }
    assert.equal(replies.at(-1), '250 2.0.0 already delivered (pipe_transport delivery journal)', haraka.log)
    const givenUp = haraka.log.match(/\[ERROR\] .*giving up on the store.*/g) ?? []
    assert.equal(givenUp.length, 1, givenUp.join('\n'))
    assert.match(
      givenUp[0] ?? '',
      /delivery journal \(local .*\/journal\): 3 operations in a row failed \(the last: .*\); giving up on the store: a new journal process opens it again in 0\.25 s, and until one works messages are delivered without exactly-once \(journal_unavailable = deliver\)/,
    )
  })
})

describe('local journal: the wall clock stepped during a run', () => {
  const work = new Scratch()
  const offsetFile = work.file('faketime.rc', '+0\n')
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({
      hostList: [HOST],
      ini: iniFor(programIn(work), work.path('journal')),
      // Haraka and its journal process both see the stepped clock, as a step of the system clock does.
      env: fakeTimeEnvironment(offsetFile),
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('an hour forward: a retry during the run is "still running", never a second run', async () => {
    const message = freshMessage()
    writeFileSync(work.path('slow'), '')
    const first = sendMail(haraka.port, { from: 's@origin.test', to: ['stepped@faults.test'], message })
    while (!existsSync(work.path('started'))) await sleep(20)
    writeFileSync(offsetFile, '+1h\n')
    assert.equal(
      reply(await sendMail(haraka.port, { from: 's@origin.test', to: ['stepped@faults.test'], message })),
      '450 4.3.0 a delivery of this message is still running, try again later',
    )
    assert.equal(reply(await first), '250 Message Queued')
    work.take('slow')
    assert.equal(
      reply(await sendMail(haraka.port, { from: 's@origin.test', to: ['stepped@faults.test'], message })),
      '250 2.0.0 already delivered (pipe_transport delivery journal)',
    )
    assert.deepEqual(work.takeLines('runs.log'), ['stepped@faults.test'])
  })
})

/** Waits until what Haraka logged since `from` matches. */
async function logAfter(haraka: Haraka, from: number, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!pattern.test(haraka.log.slice(from))) {
    if (Date.now() > deadline) assert.fail(`the log never matched ${pattern}:\n${haraka.log.slice(from)}`)
    await sleep(50)
  }
}

function movedAside(directory: string): string[] {
  return readdirSync(dirname(directory)).filter((entry) => entry.startsWith(`${basename(directory)}.damaged-`))
}
