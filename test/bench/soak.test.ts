// The short soak, part of `npm test`. `npm run soak` runs the same with more messages.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { runSoak, type SoakSummary } from './soak.js'

describe('soak: random program outcomes and dropped clients lose nothing', () => {
  let summary: SoakSummary

  before(
    async () => {
      summary = await runSoak({ messages: 300, concurrency: 16, dropRate: 0.1 })
      process.stderr.write(`${summary.line}\n`)
    },
    { timeout: 120_000 },
  )

  it('every message had a reply or was dropped by its client', () => {
    assert.deepEqual(summary.clientErrors, [])
    assert.equal(summary.sent, 300)
  })

  it('tried every program behaviour', () => {
    for (const [action, count] of Object.entries(summary.actions))
      assert.ok(count > 0, `the program never chose ${action}`)
    assert.ok(summary.dropped > 0, 'no client hung up after the dot')
  })

  it('answers 250 only when the program read the whole message and exited 0', () => {
    assert.deepEqual(summary.acceptedWithoutDelivery, [])
  })

  it('never answers a failure for a message whose program exited 0', () => {
    assert.deepEqual(summary.deliveredButFailed, [])
  })

  it('answers every other outcome as its exit status, signal or timeout demands', () => {
    assert.deepEqual(summary.mismatched, [])
  })

  it('runs each message once, and no program run is unaccounted for', () => {
    assert.deepEqual(summary.duplicated, [])
    assert.equal(summary.unaccounted, 0)
  })

  it('leaves no program or child of one behind', () => {
    assert.deepEqual(summary.leftover, [])
  })

  it('keeps Haraka alive with a flat RSS', () => {
    assert.ok(summary.harakaAlive, 'Haraka stopped serving')
    assert.ok(summary.rssFlat, summary.line)
  })
})
