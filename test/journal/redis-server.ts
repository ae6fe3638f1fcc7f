// A real redis-server (Debian's /usr/bin/redis-server) for the journal's tests: on a free
// 127.0.0.1 port, in a temporary directory, persisting nothing. stop() and start() again keep the
// port, as an operator's restart would.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { canConnect, freePort } from '../e2e/harness.js'

export class RedisServer {
  private child: ChildProcess | undefined
  private readonly directory = mkdtempSync(join(tmpdir(), 'journal-redis-'))

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort())
    await server.start()
    return server
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`
  }

  async start(): Promise<void> {
    const child = spawn(
      '/usr/bin/redis-server',
      ['--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.directory, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    this.child = child
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`))),
    )
    exited.catch(() => undefined)
    await Promise.race([waitForPort(this.port), exited])
  }

  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child?.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async remove(): Promise<void> {
    await this.stop()
    rmSync(this.directory, { recursive: true, force: true })
  }
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await canConnect(port)) return
    await sleep(25)
  }
  throw new Error(`redis-server did not listen on 127.0.0.1:${port}`)
}
