import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { open } from 'lmdb'
import { JournalUnavailableError } from '../../plugins/pipe_transport/journal/delivery-journal.js'
import { LocalJournal, type LocalJournalOptions } from '../../plugins/pipe_transport/journal/local-journal.js'
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

function localJournal(directory: string, options: Partial<LocalJournalOptions> = {}): LocalJournal {
  const journal = new LocalJournal({
    directory,
    retentionMs: LONG_LEASE_MS,
    timeoutMs: 2000,

    warn: (message) => warnings.push(message),
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
  it('keeps delivered records across a close and reopen, and drops the claims only by lease', async () => {
    const directory = join(root, 'restart')
    const [delivered, claimed] = keys(2) as [Buffer, Buffer]
    const before = localJournal(directory)
    const claim = await before.begin([delivered, claimed], LONG_LEASE_MS)
    await before.delivered(claim, [delivered])
    await before.close()
    const after = localJournal(directory)
    assert.deepEqual((await after.begin([delivered, claimed], LONG_LEASE_MS)).states, ['delivered', 'busy'])
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
        /^delivery journal \(local .*a-file\/journal\): open failed: cannot create the directory: ENOTDIR/,
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
        /^JournalUnavailableError: delivery journal \(local .*\/journal\): open failed: .*read-only file system/i,
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
      // lmdb-js reports the failed write itself, or the failed flush after it as EIO.
      assert.match(
        failure.message,
        /(begin|delivered) failed: Commit failed .*: (No space left on device|Input\/output error)/,
      )
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

describe('local journal: cluster workers', () => {
  it('gives each key to exactly one of several processes racing for it', async () => {
    const directory = join(root, 'race')
    const contested = keys(40)
    const racers = Array.from({ length: 4 }, () => startRacer(directory))
    await Promise.all(racers.map((racer) => racer.ready))
    for (const racer of racers) racer.go(contested)
    const results = await Promise.all(racers.map((racer) => racer.states))
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
    })
    child.on('close', (code) => {
      const last = output.trim().split('\n').pop() ?? ''
      if (code === 0) resolve(JSON.parse(last) as string[])
      else reject(new Error(`racer exited with ${code}: ${output}`))
    })
  })
  return {
    ready,
    states,
    go: (contested) => child.stdin.end(`${contested.map((key) => key.toString('hex')).join(' ')}\n`),
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
