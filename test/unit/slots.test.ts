import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Slots } from '../../plugins/pipe_transport/running/slots.js'

describe('slots', () => {
  it('grants up to the limit, then queues in arrival order', async () => {
    const slots = new Slots(2)
    assert.equal(await slots.acquire(1000), true)
    assert.equal(await slots.acquire(1000), true)
    const order: string[] = []
    const third = slots.acquire(1000).then((got) => order.push(`third ${got}`))
    const fourth = slots.acquire(1000).then((got) => order.push(`fourth ${got}`))
    slots.release()
    slots.release()
    await Promise.all([third, fourth])
    assert.deepEqual(order, ['third true', 'fourth true'])
  })

  it('gives up after the wait, and a later release does not count the quitter', async () => {
    const slots = new Slots(1)
    assert.equal(await slots.acquire(10), true)
    assert.equal(await slots.acquire(10), false)
    slots.release()
    assert.equal(await slots.acquire(10), true)
    assert.equal(await slots.acquire(10), false)
  })

  it('applies a raised limit to deliveries already waiting', async () => {
    const slots = new Slots(1)
    await slots.acquire(10)
    const waiting = slots.acquire(1000)
    slots.setLimit(2)
    assert.equal(await waiting, true)
  })
})
