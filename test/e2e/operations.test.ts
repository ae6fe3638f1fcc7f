// Issue 6: live reload, the delivery log line in every log format, transaction results, and trying
// a configuration with try-delivery.js.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { Haraka, REPO } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const MESSAGE = crlf(['Subject: operations', '', 'body'])
const reply = async (haraka: Haraka, to: string): Promise<string> => {
  const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: [to], message: MESSAGE })
  return `${reply?.code} ${reply?.text.replace(/\s*\([^)]+\)$/, '')}`
}

describe('live reload', () => {
  const work = new Scratch()
  let haraka: Haraka
  let program: string
  const ini = (version: string, extra = ''): string => `
[main]
program_name = ${program}
arguments = \${user}

[one]
domain = one.test

[one.code]
0 = 250 2.0.0 version ${version}
${extra}`

  before(async () => {
    program = work.shell('maybe-slow', `cat > /dev/null\n[ "$1" = slow ] && touch "${work.path('slow-started')}" && sleep 8\nexit 0`)
    haraka = await Haraka.start({ hostList: ['one.test', 'two.test'], ini: ini('one') })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  const edit = (text: string): void => haraka.writeIni(text)
  const reloads = (): number => haraka.log.split('\n').filter((line) => line.includes('[pipe_transport] reloaded ')).length

  it('applies a good edit without a restart; a running delivery finishes under the config it started with', async () => {
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version one')
    const slow = reply(haraka, 'slow@one.test')
    while (!existsSync(work.path('slow-started'))) await new Promise((r) => setTimeout(r, 25))
    edit(ini('two', '[two]\ndomain = two.test\n'))
    await haraka.waitForLog(/\[pipe_transport\] reloaded \S+pipe_transport\.ini in \d+ ms: \[one\] one\.test; \[two\] two\.test/)
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version two')
    assert.equal(await reply(haraka, 'x@two.test'), '250 Message Queued')
    assert.equal(await slow, '250 2.0.0 version one')
  })

  it('logs a bad edit with the same messages as at start, and keeps the last good config', async () => {
    const before = reloads()
    edit(ini('three', '[two]\ndomain = two.test\ntiemout = 5\n\n[three]\ndomain = one.test\n'))
    await haraka.waitForLog(/\[pipe_transport\] \S+pipe_transport\.ini: not reloaded, the last good config stays in force/)
    assert.match(haraka.log, /\[CRIT\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini \[two\] tiemout: unknown key; known keys here: /)
    assert.match(haraka.log, /\[CRIT\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini \[three\] domain: one\.test is already routed by \[one\]/)
    assert.equal(reloads(), before)
    assert.ok(haraka.running)
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version two')
    assert.equal(await reply(haraka, 'x@two.test'), '250 Message Queued')
  })
})

/** Logs what pipe_transport put into transaction.results, after success and after a denial. */
const RESULTS_OBSERVER = `
function show (plugin, connection) {
  const results = connection.transaction && connection.transaction.results.get('pipe_transport')
  connection.loginfo(plugin, 'results ' + JSON.stringify({ pass: results && results.pass, fail: results && results.fail, err: results && results.err }))
}
exports.hook_queue_ok = function (next, connection) { show(this, connection); next() }
exports.hook_deny = function (next, connection) { show(this, connection); next() }
`

for (const format of ['default', 'logfmt', 'json'] as const) {
  describe(`the delivery log line and results, log format ${format}`, () => {
    const work = new Scratch()
    let haraka: Haraka

    before(async () => {
      const exitWith = work.shell('exit-with', 'cat > /dev/null\nexit "$1"')
      haraka = await Haraka.start({
        hostList: ['log.test'],
        plugins: ['rcpt_to.in_host_list', 'pipe_transport', 'results_observer'],
        extraPlugins: { results_observer: work.file('results_observer.js', RESULTS_OBSERVER) },
        config: { 'log.ini': `[main]\nlevel=info\nformat=${format}\n` },
        ini: `[logged]\nprogram_name = ${exitWith}\narguments = \${user}\ndomain = log.test\ncode_preset = sysexits\n`,
      })
    })

    after(async () => {
      await haraka?.stop()
      work.remove()
    })

    /** The delivery line's fields, parsed from whichever format Haraka wrote. */
    async function deliveryFields(queueIdPattern: RegExp): Promise<Record<string, string | number>> {
      const line = (await haraka.waitForLog(new RegExp(`.*delivery.*${queueIdPattern.source}.*`)))[0]
      // Haraka puts a timestamp before each record when stdout is not a terminal.
      if (format === 'json') return JSON.parse(line.slice(line.indexOf('{'))) as Record<string, string | number>
      const fields: Record<string, string> = {}
      for (const [, key = '', quoted, bare] of line.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)) fields[key] = quoted ?? bare ?? ''
      return fields
    }

    for (const [rcpt, level, ended, replyText, result] of [
      ['0@log.test', 'INFO', 'exit 0', '250', { pass: ['logged'], fail: [], err: [] }],
      ['67@log.test', 'WARN', 'exit 67', '550 5.1.1 no such user (EX_NOUSER, exit status 67)', { pass: [], fail: ['logged: exit 67'], err: [] }],
    ] as const) {
      it(`${ended}: one ${level} line with every field, and the result in transaction.results`, async () => {
        const { reply: got } = await sendMail(haraka.port, { from: 's@origin.test', to: [rcpt], message: MESSAGE })
        const queueId = /\(([^)]+)\)$/.exec(got?.text ?? '')?.[1] ?? 'none'
        const fields = await deliveryFields(new RegExp(queueId.replaceAll('.', '\\.')))
        assert.equal(fields['queue_id'], queueId)
        assert.equal(fields['instance'], 'logged')
        assert.match(String(fields['program']), /exit-with$/)
        assert.equal(Number(fields['recipients']), 1)
        assert.ok(Number(fields['bytes']) > MESSAGE.length, `bytes=${fields['bytes']}`)
        assert.ok(Number(fields['duration_ms']) >= 0)
        assert.equal(fields['ended'], ended)
        assert.equal(fields['reply'], replyText)
        if (format !== 'default') assert.equal(String(fields['level']).toUpperCase(), level)
        const observed = await haraka.waitForLog(new RegExp(`${queueId.replaceAll('.', '\\.')}.*results (\\{[^}]*\\})|results (\\{[^}]*\\}).*${queueId.replaceAll('.', '\\.')}`))
        const json = (observed[1] ?? observed[2] ?? '{}').replaceAll('\\"', '"')
        assert.deepEqual(JSON.parse(json), result)
      })
    }
  })
}

describe('trying a configuration with try-delivery.js', () => {
  const work = new Scratch()
  after(() => work.remove())

  it('delivers a message file through the install dir\'s config and prints every reply', async () => {
    const { dir } = await Haraka.install({
      hostList: ['try.test'],
      ini: `[tried]\nprogram_name = /bin/cat\ndomain = try.test\noutput_file = tried.out\n\n[tried.code]\n0 = 250 2.0.0 tried and delivered\n`,
    })
    const message = work.file('message.eml', 'Subject: try\n\n.leading dot\nbody\n')
    try {
      const { stdout: output } = await promisify(execFile)(
        process.execPath,
        [join(dir, 'plugins', 'pipe_transport', 'tools', 'try-delivery.js'), '-c', dir, '--from', 's@origin.test', '--to', 'x@try.test', '--message', message],
        { cwd: REPO },
      )
      // Haraka's own log lines come between the transcript's lines.
      const stdout = output.split('\n').filter((line) => /^(>>>|<<<) /.test(line)).join('\n')
      assert.match(stdout, /^>>> RCPT TO:<x@try\.test>\n<<< 250 recipient <x@try\.test> OK$/m)
      assert.match(stdout, /^>>> \(\d+ bytes of \S+message\.eml, then "\."\)\n<<< 250 2\.0\.0 tried and delivered \(\S+\)$/m)
      assert.match(output, /\[pipe_transport\] delivery .*instance=tried .*ended="exit 0"/)
      // Relative output_file resolved against the install dir, as in a running Haraka.
      assert.match(readFileSync(join(dir, 'tried.out'), 'latin1'), /^Received: from [\s\S]*\nSubject: try\n\n\.leading dot\nbody\n$/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('exits 1 and shows the refusal when the program fails', async () => {
    const failing = work.shell('fail', 'cat > /dev/null\nexit 3')
    const { dir } = await Haraka.install({ hostList: ['try.test'], ini: `[tried]\nprogram_name = ${failing}\ndomain = try.test\n` })
    try {
      const run = promisify(execFile)(
        process.execPath,
        [join(dir, 'plugins', 'pipe_transport', 'tools', 'try-delivery.js'), '-c', dir, '--from', 's@origin.test', '--to', 'x@try.test', '--message', work.file('m.eml', 'Subject: x\n\nx\n')],
        { cwd: REPO },
      )
      await assert.rejects(run, (err: { code?: number; stdout?: string }) => {
        assert.equal(err.code, 1)
        assert.match(err.stdout ?? '', /^<<< 550 5\.5\.0 pipe transport gave exit status 3 \(\S+\)$/m)
        return true
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
