// The Prometheus metrics as an operator gets them: a real Prometheus scrapes a Haraka cluster of
// two workers, and what it stores is what was sent, summed over both workers.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Scratch } from './fixtures.js'
import { Haraka, freePort } from './harness.js'
import { PROMTOOL, PrometheusServer, type Sample } from './prometheus-server.js'
import { sendMail, type Mail } from './smtp.js'

const MESSAGE = 'From: s@origin.test\r\nSubject: metrics\r\n\r\ncounted\r\n'

/** `{labels} value` lines, sorted, so that a failure shows all of them. */
function lines(samples: readonly Sample[]): string[] {
  return samples
    .map(
      ({ metric, value }) =>
        `${JSON.stringify(Object.fromEntries(Object.entries(metric).sort(([a], [b]) => a.localeCompare(b))))} ${value}`,
    )
    .sort((a, b) => a.localeCompare(b))
}

describe('Prometheus metrics of a Haraka cluster (nodes = 2)', () => {
  const work = new Scratch()
  let haraka: Haraka
  let prometheus: PrometheusServer
  let metricsPort: number

  before(async () => {
    metricsPort = await freePort()
    // Each program notes which worker ran it (its parent), then gives its verdict.
    const program = (status: number): string =>
      work.shell(`exit-${status}`, `echo $PPID >> ${work.path('ppids')}\nexit ${status}`)
    const check = work.shell('check', '[ "$1" = known ] || exit 67')
    haraka = await Haraka.start({
      hostList: ['ok.test', 'later.test', 'never.test', 'checked.test'],
      smtp: ['nodes=2'],
      ini: [
        '[main]',
        `metrics_listen = 127.0.0.1:${metricsPort}`,
        'code_preset = sysexits',
        '[ok]',
        `program_name = ${program(0)}`,
        'domain = ok.test',
        '[later]',
        `program_name = ${program(75)}`,
        'domain = later.test',
        // Every run fails here: the breaker would open, and this test counts runs.
        'circuit_breaker = false',
        '[never]',
        `program_name = ${program(67)}`,
        'domain = never.test',
        '[checked]',
        `program_name = ${program(0)}`,
        'domain = checked.test',
        `check_program = ${check}`,
        'check_arguments = ${user}',
        'check_cache = 0',
      ].join('\n'),
    })
    for (const worker of [1, 2]) await haraka.waitForLog(new RegExp(`worker ${worker} listening on`))
    prometheus = await PrometheusServer.start(`127.0.0.1:${metricsPort}`)
  })

  after(async () => {
    await prometheus?.stop()
    await haraka?.stop()
    work.remove()
  })

  it('stores counters equal to what was sent, summed over both workers; promtool accepts the exposition', async () => {
    const mail = (...to: string[]): Mail => ({ from: 's@origin.test', to, message: MESSAGE })
    const sent = [
      ...Array.from({ length: 8 }, (_, i) => mail(`r${i}@ok.test`)),
      mail('a@ok.test', 'b@ok.test'),
      ...Array.from({ length: 3 }, (_, i) => mail(`r${i}@later.test`)),
      ...Array.from({ length: 2 }, (_, i) => mail(`r${i}@never.test`)),
      mail('known@checked.test'),
      mail('known@checked.test'),
      mail('unknown@checked.test'),
    ]
    const results = await Promise.all(sent.map((each) => sendMail(haraka.port, each)))
    assert.deepEqual(
      results.map(({ reply, refused }) => reply?.code ?? [...refused.values()][0]?.code),
      [...Array<number>(9).fill(250), 450, 450, 450, 550, 550, 250, 250, 550],
    )
    const workers = new Set(work.takeLines('ppids'))
    assert.equal(workers.size, 2, `programs ran under both workers: ${[...workers].join(', ')}`)

    const expected = {
      'sum by (instance_name, reply, ended) (pipe_transport_runs_total)': [
        '{"ended":"exit","instance_name":"checked","reply":"2xx"} 2',
        '{"ended":"exit","instance_name":"later","reply":"4xx"} 3',
        '{"ended":"exit","instance_name":"never","reply":"5xx"} 2',
        '{"ended":"exit","instance_name":"ok","reply":"2xx"} 9',
      ],
      'sum by (instance_name, result) (pipe_transport_recipients_total)': [
        '{"instance_name":"checked","result":"delivered"} 2',
        '{"instance_name":"later","result":"deferred"} 3',
        '{"instance_name":"never","result":"refused"} 2',
        '{"instance_name":"ok","result":"delivered"} 10',
      ],
      'sum by (instance_name) (pipe_transport_run_duration_seconds_count)': [
        '{"instance_name":"checked"} 2',
        '{"instance_name":"later"} 3',
        '{"instance_name":"never"} 2',
        '{"instance_name":"ok"} 9',
      ],
      'sum by (instance_name, answer, source) (pipe_transport_recipient_checks_total)': [
        '{"answer":"exists","instance_name":"checked","source":"program"} 2',
        '{"answer":"unknown","instance_name":"checked","source":"program"} 1',
      ],
      'sum by (instance_name) (pipe_transport_programs_running)': [
        '{"instance_name":"checked"} 0',
        '{"instance_name":"later"} 0',
        '{"instance_name":"never"} 0',
        '{"instance_name":"ok"} 0',
      ],
      'sum by (instance_name) (pipe_transport_circuits_open)': [
        '{"instance_name":"checked"} 0',
        '{"instance_name":"later"} 0',
        '{"instance_name":"never"} 0',
        '{"instance_name":"ok"} 0',
      ],
    }
    // Prometheus scrapes every second: wait for a scrape that has seen every message.
    const deadline = Date.now() + 30_000
    let stored: Record<string, string[]>
    for (;;) {
      stored = {}
      for (const query of Object.keys(expected)) stored[query] = lines(await prometheus.query(query))
      if (JSON.stringify(stored) === JSON.stringify(expected) || Date.now() > deadline) break
      await sleep(500)
    }
    assert.deepEqual(stored, expected, `target: ${JSON.stringify(await prometheus.target())}`)

    const exposition = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' })
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`)
    assert.equal(`${check.stdout}${check.stderr}`, '')
  })

  it('answers 404 but for GET /metrics', async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/`)
    assert.equal(response.status, 404)
    assert.equal(await response.text(), 'pipe_transport serves GET /metrics\n')
  })
})
