import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AddressTable } from '../../plugins/pipe_transport/settings/address-table.js'

describe('address table', () => {
  it('finds what was added, with its owner and UTF-8 route data, and nothing else', () => {
    const table = new AddressTable()
    assert.equal(table.add('support@example.com', 0, 'general'), undefined)
    assert.equal(table.add('@example.com', 1, ''), undefined)
    assert.equal(table.add('zoë@example.com', 2, 'Zoë’s queue'), undefined)
    assert.deepEqual(table.get('support@example.com'), { owner: 0, data: 'general' })
    assert.deepEqual(table.get('@example.com'), { owner: 1, data: '' })
    assert.deepEqual(table.get('zoë@example.com'), { owner: 2, data: 'Zoë’s queue' })
    for (const missing of [
      'support@example.co',
      'upport@example.com',
      'Support@example.com',
      '',
      'ſupport@example.com',
    ]) {
      assert.equal(table.get(missing), undefined, missing)
    }
    assert.equal(table.size, 3)
  })

  it('finds keys beyond Latin-1 by their UTF-8 bytes', () => {
    const table = new AddressTable()
    table.add('用户@例子.example', 0, 'cjk')
    table.add('ſupport@example.com', 1, 'long s')
    table.add('support@example.com', 2, 'plain')
    assert.deepEqual(table.get('用户@例子.example'), { owner: 0, data: 'cjk' })
    assert.deepEqual(table.get('ſupport@example.com'), { owner: 1, data: 'long s' })
    assert.deepEqual(table.get('support@example.com'), { owner: 2, data: 'plain' })
    // U+017F and U+007F share their low byte: a Latin-1 table would confuse them.
    assert.equal(table.get('\u007fupport@example.com'), undefined)
    assert.equal(table.get('用户@例子.exampl'), undefined)
  })

  it('keeps the first owner of a key and says who it is', () => {
    const table = new AddressTable()
    table.add('a@x.test', 3, 'first')
    assert.deepEqual(table.add('a@x.test', 4, 'second'), { owner: 3, data: 'first' })
    assert.deepEqual(table.get('a@x.test'), { owner: 3, data: 'first' })
    assert.equal(table.size, 1)
  })

  it('grows past what it was sized for and still finds every key', () => {
    const table = new AddressTable({ bytes: 10, entries: 2 })
    for (let i = 0; i < 5000; i++) assert.equal(table.add(`user${i}@list${i % 7}.test`, i % 3, `data ${i}`), undefined)
    assert.equal(table.size, 5000)
    for (let i = 0; i < 5000; i++)
      assert.deepEqual(table.get(`user${i}@list${i % 7}.test`), { owner: i % 3, data: `data ${i}` })
    assert.equal(table.get('user5000@list2.test'), undefined)
  })
})
