// The npm package, installed as Haraka users install plugins: `npm pack` of this repository, then
// `npm install` of the tarball in a fresh `haraka -i` dir, then that Haraka (this repository's)
// delivers through it. The package brings no Haraka of its own and no demo config.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { Haraka, REPO } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { SmtpSink, mxPlugin } from './smtp-sink.js'
import { sendMail } from './smtp.js'

const run = promisify(execFile)
const PACKAGE = 'haraka-plugin-pipe_transport'

/** Every package under a node_modules tree, by name (scoped ones as @scope/name). */
function installedPackages(modules: string): string[] {
  if (!existsSync(modules)) return []
  return readdirSync(modules).flatMap((entry) => {
    if (entry.startsWith('.')) return []
    if (entry.startsWith('@')) return readdirSync(join(modules, entry)).map((name) => `${entry}/${name}`)
    return [entry, ...installedPackages(join(modules, entry, 'node_modules'))]
  })
}

describe('the npm package in a haraka -i install dir', () => {
  const work = new Scratch()
  const packed = mkdtempSync(join(tmpdir(), 'pipe-transport-pack-'))
  let dir: string
  let files: string[]
  let haraka: Haraka | undefined
  let sink: SmtpSink | undefined

  before(async () => {
    // npm test has built the plugin already; a prepack build now would rewrite files other tests use.
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packed], {
      cwd: REPO,
    })
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[]
    files = info?.files.map((file) => file.path) ?? []
    dir = join(work.dir, 'haraka')
    await run(process.execPath, [join(REPO, 'node_modules', 'haraka', 'bin', 'haraka'), '-i', dir])
    // --prefer-offline: what npm ci of this repository put in npm's cache is enough.
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', join(packed, info?.filename ?? 'none')],
      { cwd: dir },
    )
  })

  after(async () => {
    await haraka?.stop()
    await sink?.close()
    rmSync(packed, { recursive: true, force: true })
    work.remove()
  })

  it('holds the compiled plugin, README, the pages of docs/, LICENSE and CHANGELOG; no TypeScript, tests or config', () => {
    const pages = readdirSync(join(REPO, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`)
    assert.ok(pages.includes('docs/configuration.md'), `docs/ has its pages: ${pages.join(' ')}`)
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      ...pages,
      'plugins/pipe_transport.js',
      'plugins/pipe_transport/tools/pipe-transport-try.js',
    ]) {
      assert.ok(files.includes(file), `${file} is in the package`)
    }
    assert.deepEqual(
      files.filter((file) => /\.ts$|^test\/|^config\//.test(file)),
      [],
    )
    assert.ok(
      !existsSync(join(dir, 'node_modules', PACKAGE, 'config')),
      'a config/ in the package would be read as defaults',
    )
  })

  it('installs no Haraka of its own, only what the plugin needs at run time', () => {
    const installed = installedPackages(join(dir, 'node_modules'))
    assert.ok(!installed.includes('haraka'), `no second Haraka: ${installed.join(' ')}`)
    assert.deepEqual(
      installed.filter((name) => name.startsWith('haraka')).sort(),
      ['haraka-config', 'haraka-constants', 'haraka-dsn', PACKAGE, 'haraka-utils'].sort(),
    )
    for (const name of ['lmdb', 'redis', 'nodemailer'])
      assert.ok(installed.includes(name), `${name} is installed: ${installed.join(' ')}`)
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    assert.ok(manifest.dependencies[PACKAGE], "npm install recorded the plugin in the install dir's package.json")
  })

  it('delivers a message through the package, with pipe_transport in config/plugins and the local journal', async () => {
    // Haraka's outbound sends everything to a sink (the next test's DSN).
    sink = await SmtpSink.start()
    haraka = await Haraka.start({
      dir,
      hostList: ['package.test', 'gone.test'],
      plugins: ['rcpt_to.in_host_list', 'pipe_transport', 'sink_mx'],
      extraPlugins: { sink_mx: work.file('sink_mx.js', mxPlugin(sink.port)) },
      // The local journal loads lmdb, a native module, from the package's dependencies.
      ini: `[main]\njournal = local\n\n[packaged]\nprogram_name = /bin/cat\ndomain = package.test\noutput_file = ${work.path('delivered')}\n\n[packaged.code]\n0 = 250 2.0.0 delivered by the package\n\n[gone]\nprogram_name = /bin/false\ndomain = gone.test\n`,
    })
    assert.ok(
      !existsSync(join(dir, 'plugins', 'pipe_transport.js')),
      'Haraka found the plugin in node_modules, not in plugins/',
    )
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['x@package.test'],
      message: crlf(['Subject: packaged', '', 'body']),
    })
    assert.equal(reply?.code, 250)
    assert.match(reply?.text ?? '', /^2\.0\.0 delivered by the package /)
    assert.match(
      readFileSync(work.path('delivered'), 'latin1'),
      /^Received: from [\s\S]*\nSubject: packaged\n\nbody\n$/,
    )
  })

  it("reaches Haraka's outbound from the package: a partial failure's DSN goes out", async () => {
    assert.ok(haraka && sink, 'the Haraka and the sink of the test before')
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['x@package.test', 'y@gone.test'],
      message: crlf(['Subject: partly', '', 'body']),
    })
    assert.equal(reply?.code, 250)
    const [dsn] = await sink.waitFor(1)
    assert.deepEqual([dsn?.from, dsn?.to], ['', ['s@origin.test']])
    assert.match(dsn?.data.toString('latin1') ?? '', /^Final-Recipient: rfc822; y@gone\.test\r$/m)
  })

  it('has the try command in node_modules/.bin, which finds Haraka on PATH', async () => {
    const { stdout } = await run(
      join(dir, 'node_modules', '.bin', 'pipe-transport-try'),
      ['-c', dir, '--dry-run', '--to', 'x@package.test'],
      {
        cwd: tmpdir(),
        env: { ...process.env, PATH: `${join(REPO, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}` },
      },
    )
    assert.match(stdout, /^RCPT TO:<x@package\.test> {2}routed to \[packaged\]; Haraka's rcpt plugins decide/m)
    assert.match(stdout, /^\[packaged\] runs \/bin\/cat once for x@package\.test$/m)
  })

  it('runs the try command --dry-run without a Haraka, with its own haraka-config and address parser', async () => {
    const { stdout, stderr } = await run(
      join(dir, 'node_modules', '.bin', 'pipe-transport-try'),
      ['-c', dir, '--dry-run', '--to', 'kundendienst@package.test'],
      // This node, and no haraka command, on PATH.
      { cwd: tmpdir(), env: { ...process.env, PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } },
    )
    assert.match(
      stderr,
      /^pipe-transport-try: no Haraka found; --dry-run reads the config with this command's own haraka-config$/m,
    )
    assert.match(stdout, /^RCPT TO:<kundendienst@package\.test> {2}routed to \[packaged\]/m)
    assert.match(stdout, /^ {2}argv {9}\["\/bin\/cat"\]$/m)
  })
})
