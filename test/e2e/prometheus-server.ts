// A real Prometheus server (Debian's /usr/bin/prometheus) for the metrics tests: on a free
// 127.0.0.1 port, in a temporary directory, scraping one target every second.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './harness.js'

export const PROMETHEUS = '/usr/bin/prometheus'
export const PROMTOOL = '/usr/bin/promtool'

/** One series of an instant query's answer. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>
  readonly value: number
}

export class PrometheusServer {
  private output = ''

  private constructor(
    readonly port: number,
    private readonly directory: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()))
  }

  /** Starts Prometheus scraping `target` (HOST:PORT, path /metrics) every second, and waits until it is ready. */
  static async start(target: string): Promise<PrometheusServer> {
    const directory = mkdtempSync(join(tmpdir(), 'pipe-transport-prometheus-'))
    const config = join(directory, 'prometheus.yml')
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: haraka',
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    )
    const port = await freePort()
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const server = new PrometheusServer(port, directory, child)
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${server.output}`)
      const ready = await fetch(`http://127.0.0.1:${port}/-/ready`).then(
        (response) => response.ok,
        () => false,
      )
      if (ready) return server
      await sleep(100)
    }
    await server.stop()
    throw new Error(`prometheus was not ready within 30 s:\n${server.output}`)
  }

  /** An instant query through Prometheus's HTTP API. */
  async query(expression: string): Promise<Sample[]> {
    const url = `http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(expression)}`
    const answer = (await (await fetch(url)).json()) as {
      status: string
      error?: string
      data?: { result: { metric: Record<string, string>; value: [number, string] }[] }
    }
    if (answer.status !== 'success' || !answer.data) throw new Error(`query ${expression}: ${answer.error ?? ''}`)
    return answer.data.result.map(({ metric, value }) => ({ metric, value: Number(value[1]) }))
  }

  /** The health of the one target: `up`, `down` or `unknown`, with the last scrape's error. */
  async target(): Promise<{ health: string; lastError: string }> {
    const answer = (await (await fetch(`http://127.0.0.1:${this.port}/api/v1/targets`)).json()) as {
      data: { activeTargets: { health: string; lastError: string }[] }
    }
    return answer.data.activeTargets[0] ?? { health: 'unknown', lastError: 'no target' }
  }

  get log(): string {
    return this.output
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((done) => this.child.once('exit', done))
      this.child.kill('SIGTERM')
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(killer)
    }
    rmSync(this.directory, { recursive: true, force: true })
  }
}
