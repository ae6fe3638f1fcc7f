import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { LocalJournal } from '../../plugins/pipe_transport/journal/local-journal.js'
import { openJournal } from '../../plugins/pipe_transport/journal/open-journal.js'
import { RedisJournal } from '../../plugins/pipe_transport/journal/redis-journal.js'
import { keys, LONG_LEASE_MS } from './journal-contract.js'

const config = { directory: '/nonexistent/journal', retentionDays: 1, unavailable: 'deliver' } as const
const log = { warn: (): void => undefined, error: (): void => undefined }

describe('openJournal', () => {
  it('opens the store that [main] journal names, and none for off', async () => {
    assert.equal(openJournal({ ...config, store: 'off' }, log), undefined)
    const local = openJournal({ ...config, store: 'local' }, log)
    assert.ok(local instanceof LocalJournal)
    assert.equal(local.description, 'local /nonexistent/journal')
    const redis = openJournal({ ...config, store: 'redis://127.0.0.1:1/2' }, log)
    assert.ok(redis instanceof RedisJournal)
    assert.equal(redis.description, 'redis 127.0.0.1:1/2')
    await Promise.all([local.close(), redis.close()])
  })
})

describe('journal = local', () => {
  it('keeps its store in the directory given', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'journal-open-'))
    try {
      const journal = openJournal({ ...config, store: 'local', directory: join(directory, 'store') }, log)
      assert.ok(journal)
      assert.deepEqual((await journal.begin(keys(1), LONG_LEASE_MS)).states, ['claimed'])
      await journal.close()
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
