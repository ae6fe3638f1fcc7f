// How programs start. posix_spawn (or, where it cannot be had, child_process; npm test
// runs every end-to-end test each way) gives each program exactly three descriptors, default
// signal dispositions, an empty signal mask and a session of its own; programs are reaped; and a
// Haraka killed with SIGKILL leaves no program, nor a child of one, running past its timeout.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { KILL_GRACE_MS } from '../../plugins/pipe_transport/running/process-groups.js'
import { Haraka, SPAWNER } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { guardianOf, isAlive, statFields, survivorsAfter } from './processes.js'
import { sendMail, type SendResult } from './smtp.js'

const MESSAGE = crlf(['Subject: spawner', '', 'body'])
/** Seconds the programs of the SIGKILL test may run. */
const TIMEOUT_SECONDS = 4

describe(`programs started by ${SPAWNER}`, () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({
      hostList: ['fds.test', 'proc.test'],
      // The program itself reports, before it opens anything of its own but what it reports.
      ini: `
[fds]
program_name = /bin/ls
arguments = -l /proc/self/fd
domain = fds.test
output_file = ${work.path('fds.out')}

[proc]
program_name = /bin/cat
arguments = /proc/self/stat /proc/self/status
domain = proc.test
output_file = ${work.path('proc.out')}
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('says once at start how programs start', () => {
    const expected =
      SPAWNER === 'posix_spawn'
        ? /programs start with posix_spawn/
        : /programs start through child_process \(fork\).*PIPE_TRANSPORT_SPAWNER=child_process is set/
    assert.equal(haraka.log.split('\n').filter((line) => line.includes('[pipe_transport] programs start')).length, 1)
    assert.match(haraka.log, expected)
  })

  it('hands the program no descriptor but 0, 1 and 2, not even those Haraka inherited without close-on-exec', async () => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@fds.test'], message: MESSAGE })
    assert.equal(reply?.code, 250)
    // ls itself opens the directory it lists; that one aside, only stdin, stdout and stderr.
    const fds = work
      .take('fds.out')
      .toString()
      .split('\n')
      .map((line) => /(\d+) -> (.*)$/.exec(line))
      .filter((match) => match !== null && !/^\/proc\/\d+\/fd$/.test(match[2] ?? ''))
      .map((match) => match?.[1])
    assert.deepEqual(fds, ['0', '1', '2'])
  })

  it('starts the program with default signal dispositions, an empty signal mask, leading its own session', async () => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@proc.test'], message: MESSAGE })
    assert.equal(reply?.code, 250)
    const [stat = '', ...status] = work.take('proc.out').toString().split('\n')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const pid = stat.split(' ')[0]
    assert.equal(fields[2], pid, 'its process group is its own')
    assert.equal(fields[3], pid, 'its session is its own')
    const field = (name: string): string | undefined =>
      status.find((line) => line.startsWith(`${name}:`))?.split(/\s+/)[1]
    // Haraka (Node) ignores SIGPIPE and SIGXFSZ; a program must get them back at their defaults.
    assert.equal(field('SigIgn'), '0000000000000000', 'no signal ignored')
    assert.equal(field('SigBlk'), '0000000000000000', 'no signal blocked')
  })

  it('reaps every program: none is left a zombie', async () => {
    const replies = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(() =>
        sendMail(haraka.port, { from: 's@origin.test', to: ['x@proc.test'], message: MESSAGE }),
      ),
    )
    assert.deepEqual(
      replies.map((r) => r.reply?.code),
      [250, 250, 250, 250, 250, 250],
    )
    const zombies = (): number[] =>
      childrenWithZombies(haraka.pid).filter((pid) => {
        try {
          return statFields(`/proc/${pid}/stat`)[0] === 'Z'
        } catch {
          return false
        }
      })
    assert.deepEqual(await until(() => zombies().length === 0, zombies), [])
  })
})

describe(`1,000 recipients at max_concurrency = 1000 (${SPAWNER})`, () => {
  let haraka: Haraka | undefined

  before(async () => {
    haraka = await Haraka.start({
      hostList: ['fan.test'],
      ini: `[fan]\nprogram_name = /bin/cat\ndomain = fan.test\nrecipient_limit = 1\nmax_concurrency = 1000\n`,
    })
  })

  after(async () => {
    await haraka?.stop()
  })

  it('starts every one of the 1,000 runs of one transaction: spawns queue, none fails to start', async () => {
    assert.ok(haraka)
    const to = Array.from({ length: 1000 }, (_, index) => `r${index}@fan.test`)
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to, message: MESSAGE })
    assert.equal(reply?.code, 250, reply?.text)
    const line = await haraka.waitForLog(/\[pipe_transport\] transaction .*/)
    assert.match(line[0], / recipients=1000 runs=1000 /)
    assert.doesNotMatch(line[0], /failed=/)
    assert.doesNotMatch(haraka.log, /could not be started|start-failed/)
  })
})

describe(`a Haraka killed with SIGKILL (${SPAWNER})`, () => {
  const work = new Scratch()
  const runs = work.path('runs')
  let haraka: Haraka | undefined

  /** pid and grandchild pid of each program run so far. */
  function readRuns(): number[][] {
    let text = ''
    try {
      text = readFileSync(runs, 'utf8')
    } catch {
      // none yet
    }
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split(' ').map(Number))
  }

  before(async () => {
    // Forks a grandchild that ignores SIGTERM, writes both pids, and waits: only SIGKILL ends it.
    const hold = work.shell(
      'hold',
      `cat > /dev/null\n(trap '' TERM; exec sleep 300) &\necho "$$ $!" >> "${runs}"\nwait`,
    )
    haraka = await Haraka.start({
      hostList: ['hold.test'],
      ini: `[hold]\nprogram_name = ${hold}\ndomain = hold.test\ntimeout = ${TIMEOUT_SECONDS}\n`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('leaves no program, nor a child of one, running past its timeout; a guardian that died was replaced first', async () => {
    assert.ok(haraka)
    const sending = [1, 2, 3, 4].map(() =>
      sendMail(haraka?.port ?? 0, { from: 's@origin.test', to: ['x@hold.test'], message: MESSAGE }).then(
        (result): SendResult | Error => result,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      ),
    )
    await until(
      () => readRuns().length === 4,
      () => readRuns().length,
    )
    const started = Date.now()
    const pids = readRuns().flat()
    assert.equal(pids.length, 8)
    assert.ok(pids.every(isAlive))

    // The guardian Haraka started with its first program is killed; Haraka starts another and
    // tells it every group that runs.
    const first = await until(
      () => guardianOf(haraka?.pid ?? 0) !== undefined,
      () => guardianOf(haraka?.pid ?? 0),
    )
    assert.ok(first !== undefined, 'Haraka has a guardian')
    process.kill(first, 'SIGKILL')
    const replaced = (): number | undefined =>
      [guardianOf(haraka?.pid ?? 0)].find((pid) => pid !== undefined && pid !== first)
    const second = await until(() => replaced() !== undefined, replaced)
    assert.ok(second !== undefined, 'a new guardian took its place')
    await sleep(200) // it reads the groups Haraka wrote to it on start

    process.kill(haraka.pid, 'SIGKILL')
    await haraka.exit()
    for (const result of await Promise.all(sending)) assert.ok(result instanceof Error, 'no client got a reply')
    // The guardian ends them at once (SIGTERM, SIGKILL after the grace); the bound is their timeout.
    const bound = started + TIMEOUT_SECONDS * 1000 + KILL_GRACE_MS - Date.now()
    assert.deepEqual(
      await survivorsAfter(pids, Math.max(0, bound)),
      [],
      'nothing of the programs outlived their timeout',
    )
    assert.deepEqual(await survivorsAfter([second]), [], 'the guardian exits once it is done')
  })
})

/** Children of a process, zombies included. */
function childrenWithZombies(parent: number): number[] {
  return readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8')
    .trim()
    .split(' ')
    .filter((pid) => pid !== '')
    .map(Number)
}

/** Polls until the condition holds, for at most 10 s; then returns what `result` says. */
async function until<T>(condition: () => boolean, result: () => T): Promise<T> {
  const deadline = Date.now() + 10_000
  while (!condition() && Date.now() < deadline) await sleep(25)
  return result()
}
