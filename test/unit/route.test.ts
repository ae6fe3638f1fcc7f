import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RouteTable, isDomainEntry, sharedRoute } from '../../plugins/pipe_transport/routing/route.js'

describe('route', () => {
  const routes = new RouteTable(
    new Map([
      ['example.com', 'exact'],
      ['*.example.com', 'sub'],
      ['*.deep.example.com', 'deeper'],
      ['*', 'catch-all'],
    ]),
  )

  it('prefers exact, then the longest wildcard, then the catch-all', () => {
    assert.equal(routes.lookup('Example.COM'), 'exact')
    assert.equal(routes.lookup('a.example.com'), 'sub')
    assert.equal(routes.lookup('x.deep.example.com'), 'deeper')
    assert.equal(routes.lookup('deep.example.com'), 'sub')
    assert.equal(routes.lookup('other.test'), 'catch-all')
  })

  it('finds nothing without a catch-all', () => {
    const plain = new RouteTable(new Map([['example.com', 'exact']]))
    assert.equal(plain.lookup('sub.example.com'), undefined)
  })

  it('tells whether recipients share one route', () => {
    assert.deepEqual(sharedRoute(routes, ['example.com', 'EXAMPLE.com']), { route: 'exact' })
    assert.deepEqual(sharedRoute(routes, ['example.com', 'a.example.com']), { mixed: ['exact', 'sub'] })
    assert.deepEqual(sharedRoute(new RouteTable(new Map()), ['x.test']), { route: undefined })
  })

  it('accepts domain entries and rejects anything else', () => {
    for (const good of ['example.com', '*.example.com', '*', 'localhost', 'xn--bcher-kva.example', 'a-b.c_d.test']) assert.ok(isDomainEntry(good), good)
    for (const bad of ['-a.test', 'a..test', '*example.com', 'a.*.test', 'ex ample.com', 'a@b.test', '', 'example.com.']) assert.ok(!isDomainEntry(bad), bad)
  })
})
