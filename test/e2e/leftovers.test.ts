// What a delivery leaves behind: the processes a program forked and did not wait for are ended
// when it exits (SIGTERM, SIGKILL after the grace), unless `leftover_processes = keep`; a Haraka
// killed together with its guardian leaves no program running; and a Haraka killed while runs
// read the copy of a large message leaves no copy in the temp dir.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, readdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { KILL_GRACE_MS } from '../../plugins/pipe_transport/running/process-groups.js'
import { Haraka, SPAWNER } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { childrenOf, guardianOf, isAlive, survivorsAfter, waitForFile } from './processes.js'
import { sendMail, type SendResult } from './smtp.js'

const MESSAGE = crlf(['Subject: leftovers', '', 'body'])
const CHILDREN = 50

describe(`a program that forks ${CHILDREN} children and exits 0 (${SPAWNER})`, () => {
  const work = new Scratch()
  let haraka: Haraka
  /** Every other child ignores SIGTERM: only the SIGKILL after the grace ends it. */
  const forker = work.shell(
    'forker',
    `cat > /dev/null
i=0
while [ $i -lt ${CHILDREN} ]; do
  if [ $((i % 2)) = 0 ]; then sleep 300 & else (trap '' TERM; exec sleep 300) & fi
  echo $! >> "${work.path('pids')}-$1"
  i=$((i + 1))
done
echo done >> "${work.path('pids')}-$1"
exit 0`,
  )

  function forkedBy(who: string): Promise<number[]> {
    return waitForFile(`${work.path('pids')}-${who}`, 10_000, 'done\n').then((text) =>
      text
        .split('\n')
        .filter((line) => /^\d+$/.test(line))
        .map(Number),
    )
  }

  before(async () => {
    haraka = await Haraka.start({
      hostList: ['forks.test', 'daemons.test'],
      ini: `
[forks]
program_name = ${forker}
arguments = \${user}
domain = forks.test

[daemons]
program_name = ${forker}
arguments = \${user}
domain = daemons.test
leftover_processes = keep
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('gets its 250, and leaves none of them running', async () => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['a@forks.test'], message: MESSAGE })
    assert.equal(reply?.code, 250)
    const pids = await forkedBy('a')
    try {
      assert.equal(pids.length, CHILDREN)
      assert.deepEqual(await survivorsAfter(pids, KILL_GRACE_MS + 3000), [], 'every child ended')
    } finally {
      killAll(pids)
    }
  })

  it('with leftover_processes = keep: they stay, and outlive Haraka', async () => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['b@daemons.test'], message: MESSAGE })
    assert.equal(reply?.code, 250)
    const pids = await forkedBy('b')
    assert.equal(pids.length, CHILDREN)
    try {
      await sleep(KILL_GRACE_MS + 1000)
      assert.deepEqual(
        pids.filter((pid) => !isAlive(pid)),
        [],
        'all still running after the grace',
      )
      await haraka.stop()
      await sleep(KILL_GRACE_MS + 1000)
      assert.deepEqual(
        pids.filter((pid) => !isAlive(pid)),
        [],
        'all still running after Haraka stopped',
      )
    } finally {
      killAll(pids)
    }
  })
})

for (const [first, gapMs] of [
  ['Haraka', 100],
  ['its guardian', 100],
] as const) {
  describe(`a Haraka and its guardian killed together, ${first} first (${SPAWNER})`, () => {
    const work = new Scratch()
    const runs = work.path('runs')
    let haraka: Haraka | undefined

    /** pid and grandchild pid of each program run so far. */
    function readRuns(): number[] {
      try {
        return readFileSync(runs, 'utf8')
          .split(/\s+/)
          .filter((word) => word !== '')
          .map(Number)
      } catch {
        return []
      }
    }

    before(async () => {
      // A program and a grandchild that both ignore SIGTERM and run far past any grace.
      const hold = work.shell(
        'hold',
        `trap '' TERM\ncat > /dev/null\n(exec sleep 300) &\necho "$$ $!" >> "${runs}"\nwait`,
      )
      haraka = await Haraka.start({
        hostList: ['hold.test'],
        ini: `[hold]\nprogram_name = ${hold}\ndomain = hold.test\ntimeout = 280\n`,
      })
    })

    after(async () => {
      await haraka?.stop()
      work.remove()
    })

    it(`leaves nothing running when the other is killed ${gapMs} ms later`, async () => {
      assert.ok(haraka)
      const harakaPid = haraka.pid
      const sending = [1, 2, 3].map(() =>
        sendMail(haraka?.port ?? 0, { from: 's@origin.test', to: ['x@hold.test'], message: MESSAGE }).then(
          (result): SendResult | Error => result,
          (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
        ),
      )
      const deadline = Date.now() + 10_000
      while (readRuns().length < 6 && Date.now() < deadline) await sleep(25)
      const pids = readRuns()
      try {
        assert.equal(pids.length, 6)
        // It has its title once Node has started it.
        while (guardianOf(harakaPid) === undefined && Date.now() < deadline) await sleep(25)
        const guardian = guardianOf(harakaPid)
        assert.ok(guardian !== undefined, 'Haraka has a guardian')
        // It has read the groups, and lived long enough to be replaced at once should it die.
        await sleep(1000)

        process.kill(first === 'Haraka' ? harakaPid : guardian, 'SIGKILL')
        await sleep(gapMs)
        // The programs, and the guardian that replaced the first one, if any.
        const children = childrenOf(harakaPid)
        process.kill(first === 'Haraka' ? guardian : harakaPid, 'SIGKILL')
        await haraka.exit()
        for (const result of await Promise.all(sending)) assert.ok(result instanceof Error, 'no client got a reply')
        assert.deepEqual(
          await survivorsAfter([...pids, ...children, guardian], 2000),
          [],
          'no program, child of one or guardian is left',
        )
      } finally {
        killAll(pids)
      }
    })
  })
}

describe(`a Haraka killed while several runs read a message of more than 1 MB (${SPAWNER})`, () => {
  const work = new Scratch()
  /** Haraka's TMPDIR: where it puts the copy that several runs read. */
  const temp = work.path('tmp')
  let haraka: Haraka | undefined

  before(async () => {
    mkdirSync(temp)
    // Reads the start of the message, says so, and waits with the rest unread.
    const slow = work.shell(
      'slow',
      `head -c 100000 > /dev/null\necho $$ > "${work.path('started')}-$1.tmp"\nmv "${work.path('started')}-$1.tmp" "${work.path('started')}-$1"\nexec sleep 300`,
    )
    haraka = await Haraka.start({
      hostList: ['copies.test'],
      env: { TMPDIR: temp },
      ini: `[copies]\nprogram_name = ${slow}\narguments = \${user}\ndomain = copies.test\nrecipient_limit = 1\ntimeout = 280\n`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('leaves no copy of it in the temp dir', async () => {
    assert.ok(haraka)
    const message = crlf([
      'Subject: large',
      '',
      ...Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'z'.repeat(64)}`),
    ])
    assert.ok(message.length > 2 * 1024 * 1024)
    const sending = sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['a@copies.test', 'b@copies.test', 'c@copies.test'],
      message,
    }).then(
      (result): SendResult | Error => result,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    )
    const pids = await Promise.all(
      ['a', 'b', 'c'].map(async (who) => Number(await waitForFile(`${work.path('started')}-${who}`))),
    )
    try {
      process.kill(haraka.pid, 'SIGKILL')
      await haraka.exit()
      assert.ok((await sending) instanceof Error, 'no client got a reply')
      assert.deepEqual(readdirSync(temp, { recursive: true }), [], 'nothing left in the temp dir')
    } finally {
      killAll(pids)
    }
  })
})

/** Test hygiene: ends what a failed assertion would leave running. */
function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
}
