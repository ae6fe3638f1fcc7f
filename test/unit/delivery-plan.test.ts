import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { planDelivery } from '../../plugins/pipe_transport/delivery-plan.js'
import { readSettings, type Settings } from '../../plugins/pipe_transport/settings/settings.js'

function settings(): Settings {
  const read = readSettings(
    {
      main: {},
      one: { program_name: '/bin/cat', domain: 'one.test', arguments: '${client_helo} ${recipient}' },
      two: { program_name: '/bin/echo', domain: 'two.test' },
    },
    { installDir: '/srv/haraka', runningAsRoot: false },
  )
  if (!('settings' in read)) throw new Error('bad test config')
  return read.settings
}

const envelope = (recipients: string[], clientHelo = 'client.test') => ({
  sender: 's@origin.test',
  recipients: recipients.map((address) => ({ address, user: address.split('@')[0] ?? '', domain: address.split('@')[1] ?? '' })),
  queueId: 'Q1',
  clientAddress: '192.0.2.1',
  clientHelo,
})

describe('delivery plan', () => {
  it('runs the first accepted recipient\'s route once for its recipients; RCPT defers the others', () => {
    const plan = planDelivery(settings(), envelope(['a@one.test', 'b@two.test', 'c@none.test', 'd@one.test']))
    assert.deepEqual(
      plan.recipients.map(({ recipient, route, decision }) => [recipient.address, route?.name, decision.kind]),
      [
        ['a@one.test', 'one', 'continue'],
        ['b@two.test', 'two', 'denysoft'],
        ['c@none.test', undefined, 'denysoft'],
        ['d@one.test', 'one', 'continue'],
      ],
    )
    assert.equal(plan.runs.length, 1)
    const [run] = plan.runs
    assert.equal(run?.instance.name, 'one')
    assert.deepEqual(run?.envelope.recipients.map((r) => r.address), ['a@one.test', 'd@one.test'])
    assert.deepEqual(run && 'argv' in run.invocation && run.invocation.argv, ['client.test', 'a@one.test', 'd@one.test'])
    assert.equal(run && 'env' in run.invocation && run.invocation.env['RECIPIENT'], 'a@one.test')
  })

  it('runs nothing when the first accepted recipient is not routed, and shows a refused argument', () => {
    assert.deepEqual(planDelivery(settings(), envelope(['c@none.test', 'a@one.test'])).runs, [])
    const [run] = planDelivery(settings(), envelope(['a@one.test'], '-oQ/tmp/x')).runs
    assert.deepEqual(run?.invocation, { refused: '${client_helo} would start argument "-oQ/tmp/x" with "-"' })
  })
})
