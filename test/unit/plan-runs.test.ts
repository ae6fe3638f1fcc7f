import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { iniFromSections } from '../../plugins/pipe_transport/settings/ini-text.js'
import { readSettings } from '../../plugins/pipe_transport/settings/settings.js'
import type { Instance } from '../../plugins/pipe_transport/settings/vocabulary.js'
import { oncePerMailbox, planRuns } from '../../plugins/pipe_transport/queue/plan-runs.js'
import { transactionReply } from '../../plugins/pipe_transport/queue/transaction-reply.js'
import { recipient } from './recipients.js'

const read = readSettings(
  iniFromSections({
    main: { program_name: '/bin/cat' },
    one: { domain: 'one.test', recipient_limit: 2 },
    two: { domain: 'two.test' },
    alone: { domain: 'alone.test' },
    'alone.env': { WHO: '${recipient}' },
  }),
  { installDir: '/', haraka: { root: false, account: undefined } },
)
if ('errors' in read) throw new Error(JSON.stringify(read.errors))
const byName = (name: string): Instance => read.settings.instances.find((each) => each.name === name) as Instance

describe('plan runs', () => {
  const routed = (name: string, address: string, routeData = '') => ({
    instance: byName(name),
    recipient: recipient(address, { routeData }),
  })
  const plan = (list: ReturnType<typeof routed>[]): string[] =>
    planRuns(list).map((run) => `${run.instance.name}: ${run.recipients.map((each) => each.address).join(' ')}`)

  it('groups by instance in the order recipients came, cut at recipient_limit', () => {
    assert.deepEqual(
      plan([
        routed('one', 'a@one.test'),
        routed('two', 'x@two.test'),
        routed('one', 'b@one.test'),
        routed('one', 'c@one.test'),
        routed('two', 'y@two.test'),
      ]),
      ['one: a@one.test b@one.test', 'one: c@one.test', 'two: x@two.test y@two.test'],
    )
  })

  it('takes the same mailbox once, whatever its case', () => {
    assert.deepEqual(
      plan(oncePerMailbox([routed('one', 'a@one.test'), routed('one', 'A@ONE.test'), routed('one', 'b@one.test')])),
      ['one: a@one.test b@one.test'],
    )
  })

  it('keeps recipients with other route data apart, and runs alone those an env value describes', () => {
    assert.deepEqual(
      plan([
        routed('two', 'a@two.test', 'general'),
        routed('two', 'b@two.test', 'billing'),
        routed('two', 'c@two.test', 'general'),
      ]),
      ['two: a@two.test c@two.test', 'two: b@two.test'],
    )
    assert.deepEqual(plan([routed('alone', 'a@alone.test'), routed('alone', 'b@alone.test')]), [
      'alone: a@alone.test',
      'alone: b@alone.test',
    ])
  })
})

describe('transaction reply', () => {
  const a = recipient('a@x.test')
  const b = recipient('b@x.test')
  const c = recipient('c@x.test')
  const ok = (text = ''): { verdict: 'ok'; text: string } => ({ verdict: 'ok', text })
  const soft = { verdict: 'denysoft', text: '4.3.0 temporary failure (EX_TEMPFAIL, exit status 75)' } as const
  const hard = { verdict: 'deny', text: '5.1.1 no such user (EX_NOUSER, exit status 67)' } as const

  it('is 250 when every recipient is delivered, keeping a text all runs share', () => {
    assert.deepEqual(
      transactionReply([
        { recipients: [a], reply: ok() },
        { recipients: [b, c], reply: ok() },
      ]),
      ok(),
    )
    assert.deepEqual(
      transactionReply([
        { recipients: [a], reply: ok('2.0.0 one') },
        { recipients: [b], reply: ok('2.0.0 two') },
      ]),
      ok('2.0.0 delivered to 2 recipients'),
    )
  })

  it('is 450 when any recipient failed temporarily, naming the failed ones', () => {
    assert.deepEqual(
      transactionReply([
        { recipients: [a], reply: ok() },
        { recipients: [b], reply: hard },
        { recipients: [c], reply: soft },
      ]),
      {
        verdict: 'denysoft',
        text: '4.3.0 temporary failure (EX_TEMPFAIL, exit status 75) (2 of 3 recipients not delivered: b@x.test, c@x.test)',
      },
    )
  })

  it('is 550 when every recipient not delivered before failed permanently', () => {
    assert.deepEqual(
      transactionReply([
        { recipients: [a], reply: ok() },
        { recipients: [b], reply: hard },
      ]),
      {
        verdict: 'deny',
        text: '5.1.1 no such user (EX_NOUSER, exit status 67) (1 of 2 recipients not delivered: b@x.test)',
      },
    )
  })

  it("keeps a single recipient's reply as the run gave it", () => {
    assert.deepEqual(transactionReply([{ recipients: [a], reply: soft }]), soft)
    assert.deepEqual(transactionReply([{ recipients: [a], reply: { verdict: 'denysoft', text: '' } }]), {
      verdict: 'denysoft',
      text: '4.3.0 delivery failed',
    })
  })

  it('cuts the list of failed recipients to fit one reply line', () => {
    const many = Array.from({ length: 40 }, (_, i) => recipient(`someone-with-a-long-name-${i}@example.test`))
    const { text } = transactionReply([{ recipients: many, reply: soft }])
    assert.ok(text.length <= 400, `${text.length} characters`)
    assert.match(
      text,
      /^4\.3\.0 temporary failure \(EX_TEMPFAIL, exit status 75\) \(40 of 40 recipients not delivered: someone-with-a-long-name-0@example\.test, .* and \d+ more\)$/,
    )
  })
})
