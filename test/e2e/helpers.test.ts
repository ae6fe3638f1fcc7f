// Issue 8: spawn helpers. What every other test checks in both modes is not repeated here; these
// are the helpers' own promises: ps shows them, a helper that dies costs only its deliveries (4xx,
// no program left running) and is replaced, each cluster worker has its own pool, and a large
// message streams through a helper without landing in its memory.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Haraka } from './harness.js'
import { Scratch, afterReceivedHeader, crlf } from './fixtures.js'
import { HELPER_TITLE, childrenOf, commandLine, isAlive, rssBytes, spawnHelpersOf, survivorsAfter, waitForFile } from './processes.js'
import { sendMail, type SendResult } from './smtp.js'

const MESSAGE = crlf(['Subject: helpers', '', 'body'])
// Run once: with PIPE_TRANSPORT_SPAWN_HELPERS set, npm test is in its second pass.
const SECOND_PASS = process.env['PIPE_TRANSPORT_SPAWN_HELPERS'] !== undefined && process.env['PIPE_TRANSPORT_SPAWN_HELPERS'] !== '0'

describe('spawn helpers', { skip: SECOND_PASS ? 'runs in the first pass only' : false }, () => {
  const work = new Scratch()
  let haraka: Haraka
  // Each run writes "USER PID PARENT GRANDCHILD", then waits for the release file.
  const runs = work.path('runs')
  const release = work.path('release')

  /** The runs written so far, by the ${user} of their recipient. */
  function readRuns(): Map<string, { pid: number; parent: number; grandchild: number }> {
    let text = ''
    try {
      text = readFileSync(runs, 'utf8')
    } catch {
      // none yet
    }
    const lines = text.split('\n').filter((line) => line !== '')
    return new Map(
      lines.map((line) => {
        const [user = '', pid, parent, grandchild] = line.split(' ')
        return [user, { pid: Number(pid), parent: Number(parent), grandchild: Number(grandchild) }]
      }),
    )
  }

  before(async () => {
    const hold = work.shell(
      'hold',
      `cat > /dev/null
sleep 300 &
echo "$1 $$ $PPID $!" >> "${runs}"
while [ ! -e "${release}" ]; do sleep 0.05; done
kill $!`,
    )
    haraka = await Haraka.start({
      hostList: ['hold.test', 'big.test', 'quit.test', 'copy.test'],
      ini: `
[main]
spawn_helpers = 2

[hold]
program_name = ${hold}
arguments = \${user}
domain = hold.test
timeout = 60

[big]
program_name = ${work.shell('slow-cat', `touch "${work.path('big-started')}"\nsleep 2\nexec cat > "${work.path('big.out')}"`)}
domain = big.test

[quit]
program_name = ${work.shell('quit', 'exit 0')}
domain = quit.test

[copy]
program_name = /bin/cat
domain = copy.test
output_file = ${work.path('copy.out')}
`,
    })
  })

  after(async () => {
    writeFileSync(release, '')
    await haraka?.stop()
    work.remove()
  })

  it('are children of Haraka that ps names for what they are', async () => {
    const helpers = spawnHelpersOf(haraka.pid)
    assert.equal(helpers.length, 2)
    for (const pid of helpers) assert.match(commandLine(pid), HELPER_TITLE)
    // Haraka's log line can reach this test a moment after ps shows the title.
    for (const pid of helpers) await haraka.waitForLog(new RegExp(`\\[pipe_transport\\] spawn helper [12] ready \\(pid ${pid}\\)`))
  })

  it('a helper killed under load: its deliveries get 450 4.3.0, its programs die, a new helper takes its place', async () => {
    const helpers = spawnHelpersOf(haraka.pid)
    const users = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']
    const sending = users.map((user) =>
      sendMail(haraka.port, { from: 's@origin.test', to: [`${user}@hold.test`], message: MESSAGE }).then(
        (result): [string, SendResult | Error] => [user, result],
        (err: unknown): [string, SendResult | Error] => [user, err instanceof Error ? err : new Error(String(err))],
      ),
    )
    const deadline = Date.now() + 10_000
    while (readRuns().size < users.length && Date.now() < deadline) await sleep(25)
    const started = readRuns()
    assert.equal(started.size, users.length, 'every program started')
    for (const run of started.values()) assert.ok(helpers.includes(run.parent), 'each program was forked by a helper, not by Haraka')

    const [victim] = helpers
    assert.ok(victim !== undefined)
    const doomed = [...started].filter(([, run]) => run.parent === victim)
    const spared = [...started].filter(([, run]) => run.parent !== victim)
    assert.ok(doomed.length > 0 && spared.length > 0, 'deliveries were spread over both helpers')
    process.kill(victim, 'SIGKILL')

    // The doomed deliveries are answered without waiting for the others.
    const replies = new Map<string, SendResult | Error>()
    for (const [user, result] of await Promise.all(sending.filter((_, i) => doomed.some(([u]) => u === users[i])))) replies.set(user, result)
    for (const [user] of doomed) {
      const result = replies.get(user)
      assert.ok(result && !(result instanceof Error), String(result))
      assert.equal(result.reply?.code, 450, user)
      assert.match(result.reply?.text ?? '', /^4\.3\.0 pipe transport delivery interrupted/)
    }
    // Haraka ends the dead helper's program groups: SIGTERM, SIGKILL after the 2 s grace.
    const doomedPids = doomed.flatMap(([, run]) => [run.pid, run.grandchild])
    assert.deepEqual(await survivorsAfter(doomedPids), [], 'no program of the dead helper is left')
    assert.ok(spared.every(([, run]) => isAlive(run.pid)), "the other helper's programs run on")

    const replaced = await haraka.waitForHelpers(2)
    assert.ok(!replaced.includes(victim))
    assert.match(haraka.log, new RegExp(`\\[ERROR\\] .*spawn helper \\d \\(pid ${victim}\\) killed by SIGKILL with ${doomed.length} deliveries in flight`))
    assert.match(haraka.log, /ended=helper-lost .*cause="spawn helper \d \(pid \d+\) closed the connection without a result"/)

    writeFileSync(release, '')
    for (const [user, result] of await Promise.all(sending)) {
      if (doomed.some(([u]) => u === user)) continue
      assert.ok(!(result instanceof Error), String(result))
      assert.equal(result.reply?.code, 250, user)
    }
    const next = await sendMail(haraka.port, { from: 's@origin.test', to: ['after@hold.test'], message: MESSAGE })
    assert.equal(next.reply?.code, 250)
    assert.ok(replaced.includes(readRuns().get('after')?.parent ?? -1), 'the next delivery went through a helper')
    assert.ok(haraka.running)
  })

  it('streams a 20 MB message to a program that does not read yet, without holding it in the helper', async () => {
    const helpers = spawnHelpersOf(haraka.pid)
    const rss = (): number => Math.max(...helpers.map((pid) => rssBytes(pid)))
    const before = rss()
    const line = `${'x'.repeat(76)}\r\n`
    const body = line.repeat(Math.ceil((20 * 1024 * 1024) / line.length))
    const sending = sendMail(haraka.port, { from: 's@origin.test', to: ['x@big.test'], message: `Subject: big\r\n\r\n${body}` })
    // The program sleeps 2 s before it reads: meanwhile the message waits in Haraka, not in the helper.
    await waitForFile(work.path('big-started'), 10_000, '')
    await sleep(1000)
    const waiting = rss() - before
    const { reply } = await sending
    assert.equal(reply?.code, 250)
    const received = afterReceivedHeader(readFileSync(work.path('big.out')))
    assert.equal(received.length, Buffer.byteLength(`Subject: big\n\n${body.replaceAll('\r\n', '\n')}`), 'every byte arrived')
    assert.ok(waiting < 4 * 1024 * 1024, `a helper grew by ${waiting} bytes while its program did not read`)
  })

  it('a program that leaves its message unread does not disturb the next delivery on the same connection', async () => {
    // One delivery at a time goes to the same helper over the same kept connection. A message
    // small enough to be sent whole before the program's verdict keeps the connection (the
    // helper drops the unread rest); a larger one is cut off by closing it. Either way the next
    // message must arrive whole and alone.
    const line = `${'u'.repeat(62)}\r\n`
    for (const size of [100 * 1024, 3 * 1024 * 1024, 100 * 1024]) {
      const unread = await sendMail(haraka.port, {
        from: 's@origin.test',
        to: ['x@quit.test'],
        message: `Subject: unread\r\n\r\n${line.repeat(Math.ceil(size / line.length))}`,
      })
      assert.equal(unread.reply?.code, 250, `${size} bytes left unread`)
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@copy.test'], message: crlf([`Subject: after ${size}`, '', 'next']) })
      assert.equal(reply?.code, 250)
      const copies = readFileSync(work.path('copy.out'), 'utf8')
      assert.ok(copies.endsWith(`\nSubject: after ${size}\n\nnext\n`), `the message after ${size} unread bytes: ...${copies.slice(-80)}`)
      assert.doesNotMatch(copies, /uuuu/)
    }
  })

  it('in a cluster, each worker has its own pool and the master none', async () => {
    const cluster = await Haraka.start({
      hostList: ['cat.test'],
      smtp: ['nodes=2'],
      ini: `[main]\nspawn_helpers = 1\n\n[cat]\nprogram_name = /bin/cat\ndomain = cat.test\noutput_file = ${work.path('cluster.out')}\n`,
    })
    try {
      let workers: number[] = []
      const deadline = Date.now() + 20_000
      for (;;) {
        workers = childrenOf(cluster.pid).filter((pid) => !HELPER_TITLE.test(commandLine(pid)))
        if (workers.length === 2 && workers.every((worker) => spawnHelpersOf(worker).length === 1)) break
        if (Date.now() > deadline) throw new Error(`workers ${workers.join(',')} never each had a helper:\n${cluster.log.slice(-3000)}`)
        await sleep(100)
      }
      assert.deepEqual(spawnHelpersOf(cluster.pid), [], 'the master runs no helpers')
      const replies = await Promise.all([1, 2, 3, 4].map(() => sendMail(cluster.port, { from: 's@origin.test', to: ['x@cat.test'], message: MESSAGE })))
      assert.deepEqual(replies.map((r) => r.reply?.code), [250, 250, 250, 250])
      const helpers = workers.flatMap((worker) => spawnHelpersOf(worker))
      await cluster.stop()
      assert.deepEqual(await survivorsAfter(helpers), [], 'the helpers end with Haraka')
    } finally {
      await cluster.stop()
    }
  })
})

describe('spawn_helpers on a live reload', { skip: SECOND_PASS ? 'runs in the first pass only' : false }, () => {
  let haraka: Haraka
  const ini = (helpers: number): string => `[main]\nspawn_helpers = ${helpers}\n\n[cat]\nprogram_name = /bin/cat\ndomain = resize.test\n`

  before(async () => {
    haraka = await Haraka.start({ hostList: ['resize.test'], ini: ini(2) })
  })

  after(async () => {
    await haraka?.stop()
  })

  it('grows and shrinks the pool without a restart; 0 delivers in Haraka itself', async () => {
    const [first] = await haraka.waitForHelpers(2)
    for (const size of [1, 3, 0]) {
      haraka.writeIni(ini(size))
      await haraka.waitForHelpers(size)
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@resize.test'], message: MESSAGE })
      assert.equal(reply?.code, 250, `after spawn_helpers = ${size}`)
    }
    // Shrinking ends the highest-numbered helpers: helper 1 lived through 2 -> 1 -> 3.
    assert.equal(first !== undefined && isAlive(first), false, 'all helpers ended at spawn_helpers = 0')
    assert.doesNotMatch(haraka.log, /ended=helper-lost/)
  })
})
