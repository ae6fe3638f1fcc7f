import assert from 'node:assert/strict'
import { Address } from '@haraka/email-address'
import { describe, it } from 'node:test'
import { iniFromSections } from '../../plugins/pipe_transport/settings/ini-text.js'
import { readSettings } from '../../plugins/pipe_transport/settings/settings.js'
import type { Settings } from '../../plugins/pipe_transport/settings/vocabulary.js'
import { planTry } from '../../plugins/pipe_transport/tools/dry-run-plan.js'
import { envelopeFor } from './recipients.js'

function settings(): Settings {
  const read = readSettings(
    iniFromSections({
      main: { program_name: '/bin/cat' },
      one: { domain: 'one.test', arguments: '${client_helo} ${recipient}', recipient_limit: 2 },
      two: { domain: 'two.test' },
    }),
    { installDir: '/srv/haraka', haraka: { root: false, account: undefined } },
  )
  if (!('settings' in read)) throw new Error(JSON.stringify(read.errors))
  return read.settings
}

const addresses = (...list: string[]) => list.map((address) => new Address(`<${address}>`))
const { recipients: _, ...envelope } = envelopeFor([])

describe("the dry run's plan", () => {
  it('accepts every routed recipient, defers the unrouted, and plans the runs plan-runs.ts makes', () => {
    const plan = planTry(
      settings(),
      envelope,
      addresses('a@one.test', 'x@two.test', 'c@none.test', 'b@one.test', 'd@ONE.test'),
    )
    assert.deepEqual(
      plan.recipients.map(({ route, decision }) => [route.address, route.match?.instance.name, decision.kind]),
      [
        ['a@one.test', 'one', 'continue'],
        ['x@two.test', 'two', 'continue'],
        ['c@none.test', undefined, 'denysoft'],
        ['b@one.test', 'one', 'continue'],
        ['d@ONE.test', 'one', 'continue'],
      ],
    )
    assert.deepEqual(
      plan.runs.map(({ instance, envelope: run, spec }) => [
        instance.name,
        run.recipients.map((r) => r.address),
        spec.ok && spec.value.argv,
      ]),
      [
        ['one', ['a@one.test', 'b@one.test'], ['client.test', 'a@one.test', 'b@one.test']],
        ['one', ['d@ONE.test'], ['client.test', 'd@ONE.test']],
        ['two', ['x@two.test'], []],
      ],
    )
    const [first] = plan.runs
    assert.equal(first?.spec.ok && first.spec.value.env['RECIPIENT'], 'a@one.test')
  })

  it('runs nothing when the first accepted recipient is not routed, and shows a refused argument', () => {
    assert.deepEqual(planTry(settings(), envelope, addresses('c@none.test', 'a@one.test')).runs, [])
    const [run] = planTry(settings(), { ...envelope, clientHelo: '-oQ/tmp/x' }, addresses('a@one.test')).runs
    assert.deepEqual(run?.spec, { ok: false, error: '${client_helo} would start argument "-oQ/tmp/x" with "-"' })
  })
})
