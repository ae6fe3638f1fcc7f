import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { rcptDecision, type RcptContext } from '../../plugins/pipe_transport/routing/rcpt-policy.js'
import { readSettings, type Settings } from '../../plugins/pipe_transport/settings/settings.js'

function settings(): Settings {
  const read = readSettings(
    {
      main: { program_name: '/bin/cat' },
      one: { domain: 'one.test' },
      two: { domain: 'two.test' },
      single: { domain: 'single.test', recipient_limit: 1 },
    },
    { installDir: '/', runningAsRoot: false },
  )
  if ('errors' in read) throw new Error(JSON.stringify(read.errors))
  return read.settings
}

const fresh: RcptContext = { sender: 's@x.test', acceptedDomains: [], queueWants: undefined }
const decide = (address: string, context: Partial<RcptContext> = {}): string => {
  const decision = rcptDecision(settings(), { address, domain: address.split('@')[1] ?? '' }, { ...fresh, ...context })
  return decision.kind === 'continue' ? 'continue' : `${decision.code} ${decision.kind === 'deny' ? 5 : 4}.${decision.subject}.${decision.detail}`
}

describe('rcpt-policy', () => {
  it('lets the first recipient through, routed or not', () => {
    assert.equal(decide('a@one.test'), 'continue')
    assert.equal(decide('a@elsewhere.test'), 'continue')
  })

  it('defers a recipient whose route differs from the first accepted one', () => {
    assert.equal(decide('a@two.test', { acceptedDomains: ['one.test'] }), '452 4.5.3')
    assert.equal(decide('a@elsewhere.test', { acceptedDomains: ['one.test'] }), '452 4.5.3')
    assert.equal(decide('a@one.test', { acceptedDomains: ['elsewhere.test'] }), '452 4.5.3')
    assert.equal(decide('b@one.test', { acceptedDomains: ['ONE.test'] }), 'continue')
    assert.equal(decide('b@elsewhere.test', { acceptedDomains: ['other.test'] }), 'continue')
  })

  it('defers a routed recipient when another queue plugin has claimed the transaction', () => {
    assert.equal(decide('a@one.test', { queueWants: 'smtp_forward' }), '452 4.5.3')
    assert.equal(decide('a@one.test', { queueWants: 'pipe_transport' }), 'continue')
  })

  it('refuses routed addresses that start with "-"', () => {
    assert.equal(decide('-x@one.test'), '550 5.1.3')
    assert.equal(decide('a@one.test', { sender: '-x@evil.test' }), '550 5.1.7')
    assert.equal(decide('-x@elsewhere.test'), 'continue')
  })

  it('enforces recipient_limit', () => {
    assert.equal(decide('a@single.test'), 'continue')
    assert.equal(decide('b@single.test', { acceptedDomains: ['single.test'] }), '452 4.5.3')
  })
})
