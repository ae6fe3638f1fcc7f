// The local journal with the real clock stepped, by libfaketime (Debian's faketime package) loaded
// into its journal process: the process inherits the LD_PRELOAD and FAKETIME_* variables set
// here, and the wall clock it sees moves when the file they name changes. The monotonic clock is
// left alone, as a step by ntpd or an operator leaves it.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { LocalJournal } from '../../plugins/pipe_transport/journal/local-journal.js'
import { eventually, keys, LONG_LEASE_MS } from './journal-contract.js'

export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'

/** The variables that put a process under libfaketime, reading its offset from `offsetFile`. */
export function fakeTimeEnvironment(offsetFile: string): Record<string, string> {
  return {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME_TIMESTAMP_FILE: offsetFile,
    FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  }
}

const root = mkdtempSync(join(tmpdir(), 'journal-clock-'))
const offsetFile = join(root, 'faketime.rc')
let journal: LocalJournal

before(async () => {
  assert.ok(existsSync(LIBFAKETIME), `${LIBFAKETIME} is missing: apt-get install faketime`)
  writeFileSync(offsetFile, '+0\n')
  const environment = fakeTimeEnvironment(offsetFile)
  Object.assign(process.env, environment)
  journal = new LocalJournal({
    directory: join(root, 'store'),
    retentionMs: LONG_LEASE_MS,
    timeoutMs: 5000,
    unavailable: 'deliver',
    warn: () => undefined,
    error: () => undefined,
  })
  try {
    await journal.begin(keys(1), 1) // starts the journal process, under libfaketime
  } finally {
    for (const name of Object.keys(environment)) Reflect.deleteProperty(process.env, name)
  }
})

after(async () => {
  await journal.close()
  rmSync(root, { recursive: true, force: true })
})

describe('local journal, its clock stepped by libfaketime', () => {
  it('sees the step: a record kept for a minute is gone once the clock is an hour ahead', async () => {
    const short = new LocalJournal({
      directory: join(root, 'store'),
      retentionMs: 60_000,
      timeoutMs: 5000,
      unavailable: 'deliver',
      warn: () => undefined,
      error: () => undefined,
    })
    const batch = keys(1)
    writeFileSync(offsetFile, '+0\n')
    await short.delivered(await short.begin(batch, LONG_LEASE_MS), batch)
    await short.close()
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['delivered'])
    writeFileSync(offsetFile, '+1h\n')
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['claimed'])
    writeFileSync(offsetFile, '+0\n')
  })

  it('keeps a running claim when the clock steps an hour forward', async () => {
    writeFileSync(offsetFile, '+0\n')
    const batch = keys(2)
    assert.deepEqual((await journal.begin(batch, 60_000)).states, ['claimed', 'claimed'])
    writeFileSync(offsetFile, '+1h\n')
    assert.deepEqual((await journal.begin(batch, 60_000)).states, ['busy', 'busy'])
    writeFileSync(offsetFile, '+0\n')
  })

  it('ends a stale claim at its lease when the clock steps an hour back', async () => {
    writeFileSync(offsetFile, '+0\n')
    const batch = keys(1)
    assert.deepEqual((await journal.begin(batch, 1000)).states, ['claimed'])
    writeFileSync(offsetFile, '-1h\n')
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['busy'])
    await sleep(1000)
    await eventually(async () => (await journal.begin(batch, LONG_LEASE_MS)).states[0] === 'claimed', 'the lease')
    writeFileSync(offsetFile, '+0\n')
  })
})
