import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import {
  circuitAdmits,
  enterCircuit,
  onCircuitChange,
  openCircuits,
  type CircuitChange,
  type CircuitPass,
  type RunHealth,
} from '../../plugins/pipe_transport/circuit/circuit-breaker.js'
import { iniFromSections } from '../../plugins/pipe_transport/settings/ini-text.js'
import type { RawSection } from '../../plugins/pipe_transport/settings/section-reader.js'
import { readSettings } from '../../plugins/pipe_transport/settings/settings.js'
import type { Instance } from '../../plugins/pipe_transport/settings/vocabulary.js'

/** A fresh instance name per test: circuits live in the module, per Haraka process. */
let serial = 0
function instance(keys: RawSection = {}): Instance {
  const name = `i${++serial}`
  const read = readSettings(
    iniFromSections({
      main: { program_name: '/bin/cat', circuit_breaker_failures: 3, circuit_breaker_wait: 10 },
      [name]: { domain: `${name}.test`, ...keys },
    }),
    { installDir: '/srv/haraka', haraka: { root: false, account: undefined } },
  )
  if (!('settings' in read)) throw new Error(JSON.stringify(read.errors))
  const [only] = read.settings.instances
  if (!only) throw new Error('no instance')
  return only
}

const changes: CircuitChange[] = []
onCircuitChange((change) => changes.push(change))

function run(target: Instance, health: RunHealth, routeData = ''): void {
  const pass = enterCircuit(target, routeData)
  if (!pass) throw new Error('the circuit refused the run')
  pass.settle(health)
}

describe('the circuit breaker', () => {
  beforeEach(() => {
    changes.length = 0
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  })
  afterEach(() => mock.timers.reset())

  it('opens after the configured number of consecutive failed runs, and then refuses RCPT and runs', () => {
    const target = instance()
    run(target, 'failed')
    run(target, 'failed')
    assert.equal(circuitAdmits(target, ''), true)
    assert.deepEqual(changes, [])
    run(target, 'failed')
    assert.deepEqual(changes, [
      { instance: target.name, routeData: undefined, change: 'opened', failures: 3, seconds: 10 },
    ])
    assert.equal(circuitAdmits(target, ''), false)
    assert.equal(enterCircuit(target, ''), undefined)
    assert.equal(openCircuits().get(target.name), 1)
  })

  it('counts only consecutive failures: an answer, 2xx or 5xx, starts the count again; neutral ends do not count', () => {
    const target = instance()
    for (const health of ['failed', 'failed', 'answered', 'failed', 'neutral', 'failed', 'neutral'] as const)
      run(target, health)
    assert.equal(circuitAdmits(target, ''), true)
    run(target, 'failed')
    assert.equal(circuitAdmits(target, ''), false)
  })

  it('after the wait lets one probe run at a time; a failed probe doubles the wait, an answered one closes it', () => {
    const target = instance({ circuit_breaker_max_wait: 30 })
    for (let i = 0; i < 3; i++) run(target, 'failed')
    mock.timers.tick(9_999)
    assert.equal(circuitAdmits(target, ''), false)
    mock.timers.tick(1)
    assert.equal(circuitAdmits(target, ''), true)
    const probe = enterCircuit(target, '')
    assert.ok(probe)
    // While the probe runs, everything else is still refused.
    assert.equal(circuitAdmits(target, ''), false)
    assert.equal(enterCircuit(target, ''), undefined)
    probe.settle('failed')
    assert.equal(circuitAdmits(target, ''), false)
    mock.timers.tick(19_999)
    assert.equal(circuitAdmits(target, ''), false)
    mock.timers.tick(1)
    ;(enterCircuit(target, '') as CircuitPass).settle('failed')
    // 40 s would be next: the longest wait is 30 s.
    mock.timers.tick(30_000)
    const second = enterCircuit(target, '')
    assert.ok(second)
    second.settle('answered')
    assert.equal(circuitAdmits(target, ''), true)
    assert.equal(openCircuits().get(target.name), undefined)
    assert.deepEqual(
      changes.map(({ change, seconds }) => [change, seconds]),
      [
        ['opened', 10],
        ['closed', 60],
      ],
    )
    // Closed, it counts from nothing again.
    run(target, 'failed')
    run(target, 'failed')
    assert.equal(circuitAdmits(target, ''), true)
  })

  it('lets the next probe run after one that said nothing (no slot in time, say)', () => {
    const target = instance()
    for (let i = 0; i < 3; i++) run(target, 'failed')
    mock.timers.tick(10_000)
    ;(enterCircuit(target, '') as CircuitPass).settle('neutral')
    assert.equal(circuitAdmits(target, ''), true)
    assert.ok(enterCircuit(target, ''))
  })

  it('ignores what runs that began before it opened say once it is open', () => {
    const target = instance()
    const late = enterCircuit(target, '')
    for (let i = 0; i < 3; i++) run(target, 'failed')
    late?.settle('answered')
    assert.equal(circuitAdmits(target, ''), false)
  })

  it('keeps one circuit per instance, or per route data with circuit_breaker_scope = route_data', () => {
    const whole = instance()
    for (let i = 0; i < 3; i++) run(whole, 'failed', `list${i}`)
    assert.equal(circuitAdmits(whole, 'list9'), false)

    const lists = instance({ circuit_breaker_scope: 'route_data' })
    for (let i = 0; i < 3; i++) run(lists, 'failed', 'broken')
    run(lists, 'failed', 'fine')
    assert.equal(circuitAdmits(lists, 'broken'), false)
    assert.equal(circuitAdmits(lists, 'fine'), true)
    assert.equal(changes.at(-1)?.routeData, 'broken')
    assert.equal(openCircuits().get(lists.name), 1)

    // A probe the program answers closes that route data's circuit, and only it.
    for (let i = 0; i < 3; i++) run(lists, 'failed', 'down')
    mock.timers.tick(10_000)
    run(lists, 'answered', 'broken')
    assert.equal(circuitAdmits(lists, 'broken'), true)
    assert.equal(circuitAdmits(lists, 'down'), true)
    assert.equal(openCircuits().get(lists.name), 1)
    assert.deepEqual(changes.at(-1), {
      instance: lists.name,
      routeData: 'broken',
      change: 'closed',
      failures: 0,
      seconds: 10,
    })
  })

  it('does nothing with circuit_breaker = false', () => {
    const target = instance({ circuit_breaker: 'false' })
    for (let i = 0; i < 10; i++) run(target, 'failed')
    assert.equal(circuitAdmits(target, ''), true)
    assert.deepEqual(changes, [])
  })
})
