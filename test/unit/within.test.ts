import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { within } from '../../plugins/pipe_transport/util/within.js'

describe('within', () => {
  it("gives the promise's value when it settles in time, and leaves no timer behind", async () => {
    const before = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    assert.equal(await within(Promise.resolve('done'), 60_000, 'late'), 'done')
    assert.equal(process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length, before)
  })

  it('gives the fallback when the promise takes longer', async () => {
    assert.equal(await within(sleep(1000, 'done'), 10, 'late'), 'late')
  })
})
