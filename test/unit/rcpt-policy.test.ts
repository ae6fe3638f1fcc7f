import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Address } from '@haraka/email-address'
import { rcptDecision, type RcptContext } from '../../plugins/pipe_transport/routing/rcpt-policy.js'
import { routeRecipient } from '../../plugins/pipe_transport/routing/route-recipient.js'
import { iniFromSections } from '../../plugins/pipe_transport/settings/ini-text.js'
import { readSettings } from '../../plugins/pipe_transport/settings/settings.js'
import type { Settings } from '../../plugins/pipe_transport/settings/vocabulary.js'

function readTestSettings(): Settings {
  const read = readSettings(
    iniFromSections({
      main: { program_name: '/bin/cat', recipient_delimiter: '+' },
      one: { domain: 'one.test' },
      two: { domain: 'two.test' },
      single: { domain: 'single.test', recipient_limit: 1 },
      rt: {},
      'rt.address': { 'support@rt.test': 'general', 'billing@rt.test': 'billing', 'sales@rt.test': 'general' },
    }),
    { installDir: '/', haraka: { root: false, account: undefined } },
  )
  if ('errors' in read) throw new Error(JSON.stringify(read.errors))
  return read.settings
}

const settings = readTestSettings()
const routed = (address: string) => routeRecipient(settings, new Address(`<${address}>`))
const decide = (address: string, context: { first?: string; sender?: string; queueWants?: unknown } = {}): string => {
  const full: RcptContext = {
    sender: context.sender ?? 's@x.test',
    firstAccepted: context.first === undefined ? undefined : routed(context.first),
    queueWants: context.queueWants,
  }
  const decision = rcptDecision(routed(address), full)
  return decision.kind === 'continue'
    ? 'continue'
    : `${decision.code} ${decision.kind === 'deny' ? 5 : 4}.${decision.subject}.${decision.detail}`
}

describe('rcpt-policy', () => {
  it('lets the first recipient through, routed or not', () => {
    assert.equal(decide('a@one.test'), 'continue')
    assert.equal(decide('a@elsewhere.test'), 'continue')
  })

  it('accepts routed recipients together, whatever their instance and route data', () => {
    assert.equal(decide('a@two.test', { first: 'x@one.test' }), 'continue')
    assert.equal(decide('billing@rt.test', { first: 'support@rt.test' }), 'continue')
    assert.equal(decide('a@single.test', { first: 'b@single.test' }), 'continue')
  })

  it('defers a recipient for another queue plugin after a routed one, and a routed one after it', () => {
    assert.equal(decide('a@elsewhere.test', { first: 'x@one.test' }), '452 4.5.3')
    assert.equal(decide('a@one.test', { first: 'x@elsewhere.test' }), '452 4.5.3')
    assert.equal(decide('b@elsewhere.test', { first: 'x@other.test' }), 'continue')
  })

  it('defers a routed recipient when another queue plugin has claimed the transaction', () => {
    assert.equal(decide('a@one.test', { queueWants: 'smtp_forward' }), '452 4.5.3')
    assert.equal(decide('a@one.test', { queueWants: 'pipe_transport' }), 'continue')
  })

  it('refuses routed recipients whose macro values would start with "-", and such senders', () => {
    assert.equal(decide('-x@one.test'), '550 5.1.3')
    assert.equal(decide('"-oQ/tmp/x"@one.test'), '550 5.1.3')
    assert.equal(decide('a+-x@one.test'), '550 5.1.3')
    assert.equal(decide('a@one.test', { sender: '-x@evil.test' }), '550 5.1.7')
    assert.equal(decide('-x@elsewhere.test'), 'continue')
  })
})
