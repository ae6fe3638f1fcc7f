// The short MTA soak, part of `npm test`. `npm run soak-mta` runs the same with more messages.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { runMtaSoak, type MtaSoakSummary } from './mta-soak.js'

describe('MTA soak: retried until 250, every recipient of every message delivered exactly once', () => {
  let summary: MtaSoakSummary

  before(
    async () => {
      summary = await runMtaSoak({ messages: 200, concurrency: 12, dropRate: 0.15, failOnceRate: 0.25 })
      process.stderr.write(`${summary.line}\n`)
    },
    { timeout: 120_000 },
  )

  it('every message got its 250 in the end, with no client error', () => {
    assert.deepEqual(summary.clientErrors, [])
    assert.equal(summary.messages, 200)
  })

  it('met what it is meant to: failed first runs, dropped replies, retries of delivered messages', () => {
    assert.ok(summary.counts.tempRuns > 0, 'no run failed')
    assert.ok(summary.counts.dropped > 0, 'no client hung up after the dot')
    assert.ok(summary.counts.alreadyDelivered > 0, 'no retry found its message delivered already')
  })

  it('each recipient of each message has exactly one successful run, which read the whole message', () => {
    assert.deepEqual(summary.neverDelivered, [])
    assert.deepEqual(summary.deliveredTwice, [])
    assert.deepEqual(summary.incompleteReads, [])
  })

  it('no message got 250 before all its recipients had succeeded', () => {
    assert.deepEqual(summary.acceptedEarly, [])
  })

  it('runs follow the routes and recipient_limit, and every 450 fits what its runs did', () => {
    assert.deepEqual(summary.wrongRuns, [])
    assert.deepEqual(summary.strangers, [])
    assert.deepEqual(summary.wrongReplies, [])
  })

  it('leaves no program behind, and Haraka alive', () => {
    assert.deepEqual(summary.leftover, [])
    assert.ok(summary.harakaAlive, 'Haraka stopped serving')
  })
})
