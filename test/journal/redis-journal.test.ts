import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { JournalUnavailableError } from '../../plugins/pipe_transport/journal/delivery-journal.js'
import { RedisJournal } from '../../plugins/pipe_transport/journal/redis-journal.js'
import { journalContract, keys, untilClaimed, LONG_LEASE_MS, watchForStrayErrors } from './journal-contract.js'
import { RedisServer } from './redis-server.js'

const TIMEOUT_MS = 1000
let server: RedisServer
const opened: RedisJournal[] = []
const warnings: string[] = []

function redisJournal(retentionMs = LONG_LEASE_MS): RedisJournal {
  const journal = new RedisJournal({
    url: server.url,
    retentionMs,
    timeoutMs: TIMEOUT_MS,
    warn: (message) => warnings.push(message),
    error: (message) => warnings.push(message),
  })
  opened.push(journal)
  return journal
}

before(async () => {
  server = await RedisServer.start()
})

after(async () => {
  await Promise.all(opened.map((journal) => journal.close()))
  await server.remove()
})

describe('redis journal: the contract', () => {
  journalContract((retentionMs) => redisJournal(retentionMs))
})

describe('redis journal: two MX hosts', () => {
  it('gives each key to exactly one of two clients racing for it', async () => {
    const hosts = [redisJournal(), redisJournal()]
    for (let round = 0; round < 20; round++) {
      const contested = keys(3)
      const [first, second] = await Promise.all(hosts.map((host) => host.begin(contested, LONG_LEASE_MS)))
      for (let key = 0; key < contested.length; key++) {
        const states = [first?.states[key], second?.states[key]].sort((a, b) => String(a).localeCompare(String(b)))
        assert.deepEqual(states, ['busy', 'claimed'], `round ${round}, key ${key}`)
      }
    }
  })

  it('shows one host the other host’s deliveries', async () => {
    const [mx1, mx2] = [redisJournal(), redisJournal()]
    const batch = keys(2)
    await mx1.delivered(await mx1.begin(batch, LONG_LEASE_MS), batch)
    assert.deepEqual((await mx2.begin(batch, LONG_LEASE_MS)).states, ['delivered', 'delivered'])
  })

  it('describes the store without the password', () => {
    const journal = new RedisJournal({
      url: `redis://:secret@127.0.0.1:${server.port}/3`,
      retentionMs: 1,
      timeoutMs: TIMEOUT_MS,
      warn: () => undefined,
      error: () => undefined,
    })
    opened.push(journal)
    assert.equal(journal.description, `redis 127.0.0.1:${server.port}/3`)
  })
})

describe('redis journal: Redis stopped mid-test', () => {
  it('rejects within the bound while Redis is down, with no stray error, and works again once it is back', async () => {
    const stray = watchForStrayErrors()
    try {
      const journal = redisJournal()
      const delivered = keys(1)
      await journal.delivered(await journal.begin(delivered, LONG_LEASE_MS), delivered)
      await server.stop()
      for (const operation of [
        () => journal.begin(keys(2), LONG_LEASE_MS),
        () => journal.delivered({ states: [], token: Buffer.alloc(16) }, keys(1)),
        () => journal.release({ states: [], token: Buffer.alloc(16) }, keys(1)),
      ]) {
        const started = Date.now()
        await assert.rejects(operation(), (error: unknown) => {
          assert.ok(error instanceof JournalUnavailableError)
          assert.match(
            error.message,
            new RegExp(
              `^delivery journal \\(redis 127\\.0\\.0\\.1:${server.port}/0\\): (begin|delivered|release) failed: `,
            ),
          )
          return true
        })
        // The bound is the contract, not a speed goal: it says the call did not hang.
        assert.ok(Date.now() - started < TIMEOUT_MS + 500, `rejected after ${Date.now() - started} ms`)
      }
      assert.match(warnings.join('\n'), /retrying in the background/)
      await server.start() // same port, empty: --save '' keeps nothing
      await untilClaimed(journal, delivered[0] as Buffer, 'reconnection')
      assert.match(warnings.join('\n'), /connected again/)
      assert.deepEqual(stray.errors, [])
    } finally {
      stray.stop()
    }
  })

  it('after an outage, an operation made as Redis comes back waits for the connection and succeeds', async () => {
    const journal = redisJournal()
    await journal.begin(keys(1), LONG_LEASE_MS)
    await server.stop()
    // Long enough for the reconnection attempts to have backed off to their longest interval.
    await sleep(2000)
    await server.start()
    assert.deepEqual((await journal.begin(keys(1), LONG_LEASE_MS)).states, ['claimed'])
  })

  it('rejects within the bound when Redis was never reachable, and starts working once it is', async () => {
    await server.stop()
    const journal = redisJournal()
    await assert.rejects(journal.begin(keys(1), LONG_LEASE_MS), /begin failed: /)
    await server.start()
    await untilClaimed(journal, keys(1)[0] as Buffer, 'first connection')
  })
})
