// Starts a real Haraka (from node_modules) in a fresh install dir on a free loopback port, with
// the compiled plugin copied in (README's fallback to the package), or in a `haraka -i` dir where
// the package was installed with npm.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const REPO = resolve(__dirname, '..', '..')
const HARAKA_BIN = join(REPO, 'node_modules', 'haraka', 'bin', 'haraka')

/**
 * `PIPE_TRANSPORT_SPAWNER=child_process` in the tests' environment reaches every Haraka they start
 * and makes it start programs through child_process, the fallback where posix_spawn cannot be had
 * (npm test runs the end-to-end tests once each way); unset, posix_spawn is used.
 */
export const SPAWNER = process.env['PIPE_TRANSPORT_SPAWNER'] === 'child_process' ? 'child_process' : 'posix_spawn'

/** A line set in [main], unless the ini sets that key itself. */
function withMainDefault(ini: string, key: string, value: string): string {
  if (new RegExp(`^\\s*${key}\\s*=`, 'm').test(ini)) return ini
  if (/^\[main\][ \t]*$/m.test(ini)) return ini.replace(/^\[main\][ \t]*$/m, `[main]\n${key} = ${value}`)
  return `[main]\n${key} = ${value}\n${ini}`
}

/**
 * The ini a test's Haraka gets: `journal = off` unless the test names a journal. Most tests send
 * the same message more than once and expect each to run; with a journal those are retries of a
 * delivered message (journal tests set it themselves).
 */
export function testIni(ini: string): string {
  return withMainDefault(ini, 'journal', 'off')
}

/** A value planted in Haraka's environment that a program must never see. */
export const HARAKA_SECRET = 'PIPE_TRANSPORT_TEST_SECRET'

export interface HarakaOptions {
  /** Contents of config/pipe_transport.ini; without it, the install dir has none. */
  readonly ini?: string
  /** Lines of config/plugins; default: rcpt_to.in_host_list then pipe_transport. */
  readonly plugins?: readonly string[]
  /** Domains rcpt_to.in_host_list accepts. */
  readonly hostList?: readonly string[]
  /** Any other config files, by name. */
  readonly config?: Readonly<Record<string, string>>
  /** Lines added to smtp.ini's [main]. */
  readonly smtp?: readonly string[]
  /** More plugins to install, by name: the path of a compiled plugin file (e.g. a bench helper). */
  readonly extraPlugins?: Readonly<Record<string, string>>
  /** Variables added to Haraka's environment (e.g. NODE_OPTIONS for the bench's spawn timer). */
  readonly env?: Readonly<Record<string, string>>
  /**
   * An install dir made by `haraka -i` with the plugin installed in it as a package: the config
   * is written into it, and no plugin file is copied.
   */
  readonly dir?: string
}

export class Haraka {
  private output = ''
  private readonly exited: Promise<number | null>

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()))
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)))
  }

  /** Starts Haraka and waits until it accepts connections. */
  static async start(options: HarakaOptions): Promise<Haraka> {
    const haraka = await Haraka.launch(options)
    await haraka.waitForPort()
    return haraka
  }

  /** Starts Haraka with a config it must refuse; resolves with its exit code and output. */
  static async startExpectingRefusal(options: HarakaOptions): Promise<{ code: number | null; log: string }> {
    const haraka = await Haraka.launch(options)
    const patience = new AbortController()
    const code = await Promise.race([
      haraka.exit(),
      sleep(30_000, 'still running' as const, { signal: patience.signal }).catch(() => 'stopped waiting' as const),
    ])
    patience.abort()
    if (code === 'still running' || code === 'stopped waiting') {
      await haraka.stop()
      throw new Error(`Haraka kept running, expected it to refuse the config:\n${haraka.log}`)
    }
    rmSync(haraka.dir, { recursive: true, force: true })
    return { code, log: haraka.log }
  }

  private static async launch(options: HarakaOptions): Promise<Haraka> {
    const { dir, port } = await Haraka.install(options)
    const env: NodeJS.ProcessEnv = { ...process.env, [HARAKA_SECRET]: 'must-not-leak', ...options.env }
    delete env['HARAKA']
    const child = spawn(process.execPath, [HARAKA_BIN, '-c', dir], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    return new Haraka(dir, port, child)
  }

  /** Writes an install dir (config, the copied plugin) without starting Haraka; the caller removes it. */
  static async install(options: HarakaOptions): Promise<{ dir: string; port: number }> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'pipe-transport-haraka-'))
    mkdirSync(join(dir, 'config'), { recursive: true })
    mkdirSync(join(dir, 'plugins'), { recursive: true })
    if (options.dir === undefined) {
      // The plugin's dependencies (haraka-config, lmdb, redis, ...), as `npm install` in the install dir gives them.
      symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'))
      // Installing = copying the compiled entry and its folder, README's fallback to the package.
      cpSync(join(REPO, 'plugins', 'pipe_transport.js'), join(dir, 'plugins', 'pipe_transport.js'))
      cpSync(join(REPO, 'plugins', 'pipe_transport'), join(dir, 'plugins', 'pipe_transport'), {
        recursive: true,
        filter: (source) => !source.endsWith('.ts'),
      })
    }
    for (const [name, file] of Object.entries(options.extraPlugins ?? {}))
      cpSync(file, join(dir, 'plugins', `${name}.js`))
    const port = await freePort()
    const config: Record<string, string> = {
      'smtp.ini': ['[main]', `listen=127.0.0.1:${port}`, 'nodes=0', ...(options.smtp ?? [])].join('\n'),
      'connection.ini': readFileSync(join(REPO, 'node_modules', 'haraka', 'config', 'connection.ini'), 'utf8').replace(
        /^bytes=\d+/m,
        'bytes=52428800',
      ),
      'log.ini': '[main]\nlevel=info\nformat=default\n',
      me: 'haraka.test',
      plugins: (options.plugins ?? ['rcpt_to.in_host_list', 'pipe_transport']).join('\n'),
      host_list: (options.hostList ?? []).join('\n'),
      ...(options.ini === undefined ? {} : { 'pipe_transport.ini': testIni(options.ini) }),
      ...options.config,
    }
    for (const [name, text] of Object.entries(config)) writeFileSync(join(dir, 'config', name), `${text}\n`)
    return { dir, port }
  }

  /** Rewrites config/pipe_transport.ini as start() wrote it (with testIni()), for a live reload. */
  writeIni(ini: string): void {
    writeFileSync(join(this.dir, 'config', 'pipe_transport.ini'), `${testIni(ini)}\n`)
  }

  /** Everything Haraka has logged so far. */
  get log(): string {
    return this.output
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Resolves with the exit code once Haraka has exited. */
  exit(): Promise<number | null> {
    return this.exited
  }

  /** Waits until the log matches, e.g. a line written after a delivery or a reload. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = pattern.exec(this.output)
      if (match) return match
      if (Date.now() > deadline) throw new Error(`log never matched ${pattern}:\n${this.output.slice(-4000)}`)
      await sleep(50)
    }
  }

  private async waitForPort(): Promise<void> {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`Haraka exited before listening:\n${this.output}`)
      if (await canConnect(this.port)) return
      await sleep(50)
    }
    throw new Error(`Haraka did not listen on ${this.port}:\n${this.output}`)
  }

  /** SIGINT (Haraka's graceful stop), then SIGKILL if it hangs; removes the install dir. */
  async stop(): Promise<void> {
    // PIPE_TRANSPORT_TEST_LOG=1 npm test shows what Haraka logged, for debugging a failure.
    if (process.env['PIPE_TRANSPORT_TEST_LOG']) process.stderr.write(this.output)
    if (this.running) {
      this.child.kill('SIGINT')
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
      await this.exited
      clearTimeout(killer)
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))))
    })
  })
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      done(true)
    })
    socket.once('error', () => done(false))
  })
}

/** Writes an executable script (a real program the plugin will run) and returns its path. */
export function writeProgram(dir: string, name: string, body: string): string {
  const path = join(dir, name)
  writeFileSync(path, body)
  chmodSync(path, 0o755)
  return path
}
