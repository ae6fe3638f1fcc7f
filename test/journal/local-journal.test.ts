import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { open } from 'lmdb'
import { JournalUnavailableError } from '../../plugins/pipe_transport/journal/delivery-journal.js'
import {
  LocalJournal,
  REOPEN_AFTER_FAILURES,
  type LocalJournalOptions,
} from '../../plugins/pipe_transport/journal/local-journal.js'
import { KILL_GRACE_MS } from '../../plugins/pipe_transport/running/process-groups.js'
import {
  eventually,
  journalContract,
  keys,
  untilClaimed,
  LONG_LEASE_MS,
  watchForStrayErrors,
} from './journal-contract.js'

const root = mkdtempSync(join(tmpdir(), 'journal-local-'))
const opened: LocalJournal[] = []
const warnings: string[] = []
const errors: string[] = []

function localJournal(directory: string, options: Partial<LocalJournalOptions> = {}): LocalJournal {
  const journal = new LocalJournal({
    directory,
    retentionMs: LONG_LEASE_MS,
    timeoutMs: 2000,
    unavailable: 'deliver',
    warn: (message) => warnings.push(message),
    error: (message) => errors.push(message),
    ...options,
  })
  opened.push(journal)
  return journal
}

after(async () => {
  await Promise.all(opened.map((journal) => journal.close()))
  rmSync(root, { recursive: true, force: true })
})

describe('local journal: the contract', () => {
  const directory = join(root, 'contract')
  journalContract((retentionMs) => localJournal(directory, { retentionMs }))
})

describe('local journal: the store', () => {
  it('keeps delivered records across a close and reopen, and releases the claims it still held', async () => {
    const directory = join(root, 'restart')
    const [delivered, claimed] = keys(2) as [Buffer, Buffer]
    const before = localJournal(directory)
    const claim = await before.begin([delivered, claimed], LONG_LEASE_MS)
    await before.delivered(claim, [delivered])
    await before.close()
    const after = localJournal(directory)
    await eventually(
      async () => (await after.begin([claimed], LONG_LEASE_MS)).states[0] === 'claimed',
      'the claim released by close',
    )
    assert.deepEqual((await after.begin([delivered], LONG_LEASE_MS)).states, ['delivered'])
  })

  it('rejects every operation after close', async () => {
    const journal = localJournal(join(root, 'closed'))
    await journal.close()
    await assert.rejects(
      journal.begin(keys(1), LONG_LEASE_MS),
      /delivery journal \(local .*\): begin failed: the journal is closed/,
    )
  })

  it('sweeps expired entries away as new keys arrive', async () => {
    const directory = join(root, 'sweep')
    const journal = localJournal(directory, { retentionMs: 100 })
    const old = keys(200)
    await journal.delivered(await journal.begin(old, LONG_LEASE_MS), old)
    await eventually(
      async () => (await journal.begin(keys(1), 1)).states[0] === 'claimed' && countEntries(directory) < 60,
      'sweep',
    )
    await journal.close()
    // 200 expired delivered entries, 4 looked at per new key: well under 60 new keys clear them.
    assert.ok(countEntries(directory) < 60, `${countEntries(directory)} entries left`)
  })

  it('moves a damaged store aside and starts a new one, instead of crashing the process', async () => {
    const directory = join(root, 'damaged')
    const first = localJournal(directory)
    await first.begin(keys(1), LONG_LEASE_MS)
    await first.close()
    writeFileSync(join(directory, 'data.mdb'), 'this is not an LMDB file\n')
    warnings.length = 0
    const journal = localJournal(directory)
    assert.deepEqual((await journal.begin(keys(1), LONG_LEASE_MS)).states, ['claimed'])
    const aside = readdirSync(root).filter((name) => name.startsWith('damaged.damaged-'))
    assert.equal(aside.length, 1)
    assert.match(
      warnings.join('\n'),
      /the store was damaged \(reading it crashed a process \(SIGSEGV\)\); moved it to .*damaged\.damaged-/,
    )
  })

  it('rejects with the reason when the directory cannot be created, and recovers when it can', async () => {
    const parent = join(root, 'a-file')
    writeFileSync(parent, 'not a directory')
    const journal = localJournal(join(parent, 'journal'))
    await assert.rejects(journal.begin(keys(1), LONG_LEASE_MS), (error: unknown) => {
      assert.ok(error instanceof JournalUnavailableError)
      assert.match(
        error.message,
        /^delivery journal \(local .*a-file\/journal\): begin failed: cannot open the store: cannot create the directory: ENOTDIR/,
      )
      return true
    })
    rmSync(parent)
    await untilClaimed(journal, keys(1)[0] as Buffer, 'recovery')
  })

  it('rejects with the reason when the directory cannot be written', async () => {
    // Root ignores permission bits, so the directory is on a file system remounted read-only.
    const mountPoint = await mountTmpfs('size=64k')
    try {
      mkdirSync(join(mountPoint, 'journal'))
      await run('mount', ['-o', 'remount,ro', mountPoint])
      const journal = localJournal(join(mountPoint, 'journal'))
      await assert.rejects(
        journal.begin(keys(1), LONG_LEASE_MS),
        /^JournalUnavailableError: delivery journal \(local .*\/journal\): begin failed: cannot open the store: .*read-only file system/i,
      )
      await journal.close()
    } finally {
      await unmount(mountPoint)
    }
  })

  it('rejects when the disk is full, with no unhandled rejection, and works again once there is room', async () => {
    const mountPoint = await mountTmpfs('size=512k')
    const stray = watchForStrayErrors()
    try {
      writeFileSync(join(mountPoint, 'filler'), Buffer.alloc(300 * 1024))
      const journal = localJournal(join(mountPoint, 'journal'))
      let failure: unknown
      for (let round = 0; round < 400 && failure === undefined; round++) {
        const batch = keys(50)
        try {
          await journal.delivered(await journal.begin(batch, LONG_LEASE_MS), batch)
        } catch (error) {
          failure = error
        }
      }
      assert.ok(failure instanceof JournalUnavailableError, 'the disk never filled up')
      // LMDB reports the failed write of a page, or tmpfs the write of the file as EIO.
      assert.match(failure.message, /(begin|delivered) failed: (No space left on device|Input\/output error)/)
      rmSync(join(mountPoint, 'filler'))
      assert.deepEqual((await journal.begin(keys(1), LONG_LEASE_MS)).states, ['claimed'])
      await journal.close()
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(stray.errors, [])
    } finally {
      stray.stop()
      await unmount(mountPoint)
    }
  })
})

describe('local journal: a store damaged or removed while in use', () => {
  /** Overwrites part of a file of the store in place, as a bad disk or a stray program would. */
  function overwrite(file: string, bytes: Buffer, position = 0): void {
    const fd = openSync(file, 'r+')
    try {
      writeSync(fd, bytes, 0, bytes.length, position)
    } finally {
      closeSync(fd)
    }
  }

  async function deliveredStore(name: string): Promise<{ directory: string; journal: LocalJournal }> {
    const directory = join(root, name)
    const journal = localJournal(directory)
    for (let round = 0; round < 20; round++) {
      const batch = keys(20)
      await journal.delivered(await journal.begin(batch, LONG_LEASE_MS), batch)
    }
    // A begin's answer comes after the journal process has carried out every request before it.
    await journal.begin(keys(1), LONG_LEASE_MS)
    warnings.length = 0
    errors.length = 0
    return { directory, journal }
  }

  const movedAside = (name: string): string[] =>
    readdirSync(root).filter((entry) => entry.startsWith(`${name}.damaged-`))

  it('zeros over data.mdb: the journal process dies instead of this one, and a new one moves the store aside', async () => {
    const { directory, journal } = await deliveredStore('zeroed')
    overwrite(join(directory, 'data.mdb'), Buffer.alloc(8192))
    await assert.rejects(
      journal.begin(keys(1), LONG_LEASE_MS),
      /begin failed: the journal process was killed by SIGABRT$/,
    )
    await untilClaimed(journal, keys(1)[0] as Buffer, 'a new journal process')
    assert.match(
      warnings.join('\n'),
      /the journal process was killed by SIGABRT; a new journal process starts in 0\.25 s/,
    )
    assert.match(
      warnings.join('\n'),
      /delivery journal \(local .*zeroed\): the store was damaged \(reading it crashed a process \(SIGSEGV\)\); moved it to .*zeroed\.damaged-.* and started a new one/,
    )
    assert.equal(movedAside('zeroed').length, 1)
  })

  it('a truncated data.mdb: noticed before it is read, and the store moved aside', async () => {
    const { directory, journal } = await deliveredStore('truncated')
    truncateSync(join(directory, 'data.mdb'), 4096)
    await assert.rejects(
      journal.begin(keys(1), LONG_LEASE_MS),
      /begin failed: .*truncated\/data\.mdb shrank from \d+ to 4096 bytes$/,
    )
    await untilClaimed(journal, keys(1)[0] as Buffer, 'a new journal process')
    assert.match(
      warnings.join('\n'),
      /truncated\/data\.mdb shrank from \d+ to 4096 bytes while in use; opening the store anew/,
    )
    assert.match(
      warnings.join('\n'),
      /the store was damaged \(reading it crashed a process \(SIGSEGV\)\); moved it to /,
    )
    assert.equal(movedAside('truncated').length, 1)
  })

  it('a removed store: noticed at the next operation, and what is recorded after it is kept', async () => {
    const { directory, journal } = await deliveredStore('removed')
    rmSync(directory, { recursive: true })
    await assert.rejects(journal.begin(keys(1), LONG_LEASE_MS), /begin failed: .*removed\/data\.mdb was removed$/)
    const [later] = keys(1) as [Buffer]
    await untilClaimed(journal, later, 'a new store')
    await journal.delivered({ states: ['claimed'], token: Buffer.alloc(16) }, [later])
    await journal.close()
    // Recorded in the new store on disk, not in the removed file that only the old process still had.
    assert.deepEqual((await localJournal(directory).begin([later], LONG_LEASE_MS)).states, ['delivered'])
    assert.deepEqual(errors, [])
  })

  it('a corrupt lock.mdb: given up after a few failures in a row, with one ERROR, and opened anew', async () => {
    const { directory, journal } = await deliveredStore('lock')
    overwrite(join(directory, 'lock.mdb'), Buffer.alloc(statSync(join(directory, 'lock.mdb')).size, 0xff))
    const failures: string[] = []
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        if ((await journal.begin(keys(1), LONG_LEASE_MS)).states[0] === 'claimed') break
      } catch (error) {
        failures.push(error instanceof JournalUnavailableError ? error.reason : String(error))
        await sleep(50)
      }
    }
    assert.deepEqual((await journal.begin(keys(1), LONG_LEASE_MS)).states, ['claimed'])
    // Only the first few reached the broken store; the rest were refused at once while it was reopened.
    const fromTheStore = failures.filter((why) => !why.startsWith('its journal process is being replaced'))
    assert.equal(fromTheStore.length, REOPEN_AFTER_FAILURES, fromTheStore.join('\n'))
    assert.equal(errors.length, 1)
    assert.match(
      errors[0] ?? '',
      new RegExp(
        `^delivery journal \\(local .*/lock\\): ${REOPEN_AFTER_FAILURES} operations in a row failed \\(the last: .*Invalid argument.*\\); giving up on the store: ` +
          'a new journal process opens it again in 0\\.25 s, and until one works messages are delivered without exactly-once ' +
          '\\(journal_unavailable = deliver\\): a retry of a message delivered before may be delivered again$',
      ),
    )
  })
})

describe('local journal: the Haraka that held claims goes away', () => {
  /** A process that claims the keys in its own journal on the directory, as a Haraka would. */
  async function holder(directory: string, held: readonly Buffer[]): Promise<ChildProcess> {
    const child = spawn(
      process.execPath,
      [join(__dirname, 'holder-child.js'), directory, ...held.map((key) => key.toString('hex'))],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    const [line] = (await once(child.stdout.setEncoding('utf8'), 'data')) as [string]
    assert.deepEqual(
      JSON.parse(line),
      held.map(() => 'claimed'),
    )
    return child
  }

  it('killed with SIGKILL: its claims hold until its programs are surely gone, then are released', async () => {
    const directory = join(root, 'sigkill')
    const held = keys(2)
    const child = await holder(directory, held)
    child.kill('SIGKILL')
    await once(child, 'exit')
    const journal = localJournal(directory)
    // The guardian gives the programs of a killed Haraka the kill grace before SIGKILL.
    assert.deepEqual((await journal.begin(held, LONG_LEASE_MS)).states, ['busy', 'busy'])
    await sleep(KILL_GRACE_MS - 500)
    assert.deepEqual((await journal.begin(held, LONG_LEASE_MS)).states, ['busy', 'busy'])
    const claimedAgain = new Set<number>()
    await eventually(async () => {
      ;(await journal.begin(held, LONG_LEASE_MS)).states.forEach(
        (state, i) => state === 'claimed' && claimedAgain.add(i),
      )
      return claimedAgain.size === held.length
    }, 'the release after the grace')
  })

  it('exiting on its own, after killing its programs: its claims are released at once', async () => {
    const directory = join(root, 'exit')
    const held = keys(2)
    const child = await holder(directory, held)
    child.stdin?.write('exit\n')
    await once(child, 'exit')
    const journal = localJournal(directory)
    const claimedAgain = new Set<number>()
    // Well within the kill grace, which a killed Haraka's claims wait for.
    await eventually(
      async () => {
        ;(await journal.begin(held, LONG_LEASE_MS)).states.forEach(
          (state, i) => state === 'claimed' && claimedAgain.add(i),
        )
        return claimedAgain.size === held.length
      },
      'the release at exit',
      KILL_GRACE_MS / 2,
    )
  })
})

describe('local journal: cluster workers', () => {
  it('gives each key to exactly one of several processes racing for it', async () => {
    const directory = join(root, 'race')
    const contested = keys(40)
    const racers = Array.from({ length: 4 }, () => startRacer(directory))
    await Promise.all(racers.map((racer) => racer.ready))
    for (const racer of racers) racer.go(contested)
    const results = await Promise.all(racers.map((racer) => racer.states))
    for (const racer of racers) racer.finish()
    for (let key = 0; key < contested.length; key++) {
      const states = results.map((states) => states[key])
      assert.equal(states.filter((state) => state === 'claimed').length, 1, `key ${key}: ${states.join(' ')}`)
      assert.equal(states.filter((state) => state === 'busy').length, racers.length - 1)
    }
  })
})

function countEntries(directory: string): number {
  const store = open({ path: directory, readOnly: true, keyEncoding: 'binary', encoding: 'binary' })
  try {
    return store.getCount()
  } finally {
    void store.close()
  }
}

interface Racer {
  readonly ready: Promise<void>
  readonly states: Promise<string[]>
  go(keys: readonly Buffer[]): void
  /** Every racer has answered: it may let its claims go and end. */
  finish(): void
}

/** A separate Node process with its own journal on the directory, like a Haraka cluster worker. */
function startRacer(directory: string): Racer {
  const child = spawn(process.execPath, [join(__dirname, 'race-child.js'), directory], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let output = ''
  let readyNow: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (readyNow = resolve))
  const states = new Promise<string[]>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      if (output.startsWith('ready\n')) readyNow()
      const answer = /^ready\n(.*)\n/.exec(output)?.[1]
      if (answer !== undefined) resolve(JSON.parse(answer) as string[])
    })
    child.on('close', (code) => reject(new Error(`racer exited with ${code} before it answered: ${output}`)))
  })
  return {
    ready,
    states,
    go: (contested) => child.stdin.write(`${contested.map((key) => key.toString('hex')).join(' ')}\n`),
    finish: () => child.stdin.end(),
  }
}

/** A small file system of its own, to fill up or to refuse writes (the tests run as root, as CI does). */
async function mountTmpfs(options: string): Promise<string> {
  const mountPoint = mkdtempSync(join(tmpdir(), 'journal-mount-'))
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint])
  return mountPoint
}

async function unmount(mountPoint: string): Promise<void> {
  // Lazy: a store that a failed test left open must not turn its failure into "target is busy".
  await run('umount', ['--lazy', mountPoint])
  rmSync(mountPoint, { recursive: true, force: true })
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)),
    )
  })
}
