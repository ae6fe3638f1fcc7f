import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { splitExtension } from '../../plugins/pipe_transport/routing/address-parts.js'
import { lookupRoute } from '../../plugins/pipe_transport/routing/route.js'
import { isDomainEntry } from '../../plugins/pipe_transport/settings/domains.js'
import type { Instance, RouteEntries, RouteMatch } from '../../plugins/pipe_transport/settings/vocabulary.js'

/** A match whose instance is known by its name only: the lookup reads nothing else of it. */
const match = (name: string, data = ''): RouteMatch => ({ instance: { name } as Instance, data })
const routes: RouteEntries = {
  addresses: new Map([
    ['support@example.com', match('rt', 'general')],
    ['support-comment@example.com', match('rt-comment', 'general')],
    ['list@example.com', match('mlmmj', 'list')],
    ['@example.com', match('domain-wide')],
    ['@lists.example.com', match('lists')],
  ]),
  unrouted: new Set(['postmaster@lists.example.com', 'abuse@']),
  domains: new Map([
    ['example.com', match('exact')],
    ['*.example.com', match('sub')],
    ['*.deep.example.com', match('deeper')],
    ['*', match('catch-all')],
  ]),
}

/** The route name and data for an address, splitting the extension at `delimiters`. */
function route(address: string, delimiters?: string): string | undefined {
  const at = address.lastIndexOf('@')
  const local = address.slice(0, at)
  const found = lookupRoute(routes, {
    local,
    user: splitExtension(local, delimiters).user,
    domain: address.slice(at + 1),
  })
  return found && (found.data === '' ? found.instance.name : `${found.instance.name} ${found.data}`)
}

describe('route', () => {
  it('prefers the whole address, then the address without its extension, then @domain', () => {
    assert.equal(route('Support@EXAMPLE.com'), 'rt general')
    assert.equal(route('support-comment@example.com', '-'), 'rt-comment general')
    assert.equal(route('support+x@example.com', '+'), 'rt general')
    assert.equal(route('list+subscribe@example.com', '+'), 'mlmmj list')
    // Without a delimiter an extension is part of the local part, which no entry names.
    assert.equal(route('support+x@example.com'), 'domain-wide')
    assert.equal(route('other@example.com'), 'domain-wide')
  })

  it('leaves [unrouted] addresses to others, though a domain route would take them', () => {
    assert.equal(route('postmaster@lists.example.com'), undefined)
    assert.equal(route('Abuse@anywhere.test'), undefined)
    assert.equal(route('abuse+x@example.com', '+'), undefined)
    assert.equal(route('postmaster@example.com'), 'domain-wide')
    assert.equal(route('owner@lists.example.com'), 'lists')
  })

  it('prefers exact domains, then the longest wildcard, then the catch-all', () => {
    assert.equal(route('x@a.example.com'), 'sub')
    assert.equal(route('x@x.deep.example.com'), 'deeper')
    assert.equal(route('x@deep.example.com'), 'sub')
    assert.equal(route('x@other.test'), 'catch-all')
    const plain: RouteEntries = {
      addresses: new Map(),
      unrouted: new Set(),
      domains: new Map([['example.com', match('exact')]]),
    }
    assert.equal(lookupRoute(plain, { local: 'x', user: 'x', domain: 'sub.example.com' }), undefined)
  })

  it('accepts domain entries and rejects anything else', () => {
    for (const good of ['example.com', '*.example.com', '*', 'localhost', 'xn--bcher-kva.example', 'a-b.c_d.test'])
      assert.ok(isDomainEntry(good), good)
    for (const bad of [
      '-a.test',
      'a..test',
      '*example.com',
      'a.*.test',
      'ex ample.com',
      'a@b.test',
      '',
      'example.com.',
    ])
      assert.ok(!isDomainEntry(bad), bad)
  })
})

describe('address extensions', () => {
  const split = (local: string, delimiters?: string): string => {
    const { user, extension, extended } = splitExtension(local, delimiters)
    return extended ? `${user} | ${extension}` : user
  }

  it('splits at the first of the delimiters, as Postfix does', () => {
    assert.equal(split('alice+work'), 'alice+work')
    assert.equal(split('alice+work', '+'), 'alice | work')
    assert.equal(split('alice+work+home', '+'), 'alice | work+home')
    assert.equal(split('a-b+c', '+-'), 'a | b+c')
    assert.equal(split('alice+', '+'), 'alice | ')
  })

  it('keeps the names Postfix never splits', () => {
    assert.equal(split('+alice', '+'), '+alice')
    assert.equal(split('Postmaster', '+-'), 'Postmaster')
    assert.equal(split('mailer-daemon', '-'), 'mailer-daemon')
    assert.equal(split('owner-list', '-'), 'owner-list')
    assert.equal(split('list-request', '-'), 'list-request')
    assert.equal(split('owner-list', '+'), 'owner-list')
    assert.equal(split('list-request', '+-'), 'list-request')
    assert.equal(split('list-x', '+-'), 'list | x')
  })
})
