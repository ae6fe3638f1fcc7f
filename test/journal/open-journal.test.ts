import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { DeliveryJournal } from '../../plugins/pipe_transport/journal/delivery-journal.js'
import { LocalJournal } from '../../plugins/pipe_transport/journal/local-journal.js'
import { NullJournal } from '../../plugins/pipe_transport/journal/null-journal.js'
import { openJournal } from '../../plugins/pipe_transport/journal/open-journal.js'
import { RedisJournal } from '../../plugins/pipe_transport/journal/redis-journal.js'
import { keys, LONG_LEASE_MS } from './journal-contract.js'

const common = { localDirectory: '/nonexistent/journal', retentionMs: 1000, warn: () => undefined }

describe('openJournal', () => {
  it('opens the store that [main] journal names', async () => {
    assert.ok(openJournal({ ...common, journal: 'off' }) instanceof NullJournal)
    const local = openJournal({ ...common, journal: 'local' })
    assert.ok(local instanceof LocalJournal)
    assert.equal(local.description, 'local /nonexistent/journal')
    const redis = openJournal({ ...common, journal: 'redis://127.0.0.1:1/2' })
    assert.ok(redis instanceof RedisJournal)
    assert.equal(redis.description, 'redis 127.0.0.1:1/2')
    await Promise.all([local.close(), redis.close()])
  })

  it('refuses a value that names no store, saying what is allowed', () => {
    assert.throws(() => openJournal({ ...common, journal: 'lmdb' }), /^Error: journal = lmdb: expected local, off or redis:\/\/HOST:PORT\/DB$/)
    assert.throws(() => openJournal({ ...common, journal: 'redis://[bad' }), /journal = redis:\/\/\[bad: not a valid redis:\/\/ URL/)
  })
})

describe('journal = off', () => {
  it('lets every key run and remembers nothing', async () => {
    const journal: DeliveryJournal = new NullJournal()
    const batch = keys(2)
    const claim = await journal.begin(batch, LONG_LEASE_MS)
    await journal.delivered(claim, batch)
    assert.deepEqual((await journal.begin(batch, LONG_LEASE_MS)).states, ['claimed', 'claimed'])
  })
})

describe('journal = local', () => {
  it('keeps its store in the directory given', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'journal-open-'))
    try {
      const journal = openJournal({ ...common, journal: 'local', localDirectory: join(directory, 'store') })
      assert.deepEqual((await journal.begin(keys(1), LONG_LEASE_MS)).states, ['claimed'])
      await journal.close()
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
