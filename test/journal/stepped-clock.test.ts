// The local journal with the real clock stepped, by libfaketime loaded into its journal process
// (fake-time.ts): the process inherits the LD_PRELOAD and FAKETIME_* variables set here, and the
// wall clock it sees moves when the file they name changes.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { LocalJournal } from '../../plugins/pipe_transport/journal/local-journal.js'
import { fakeTimeEnvironment } from './fake-time.js'
import { eventually, keys, LONG_LEASE_MS } from './journal-contract.js'

const root = mkdtempSync(join(tmpdir(), 'journal-clock-'))
const offsetFile = join(root, 'faketime.rc')
let journal: LocalJournal

before(async () => {
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
