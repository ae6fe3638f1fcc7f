// Live reload (also of a missing file), the delivery log line in every log format, and
// transaction results.
import assert from 'node:assert/strict'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Haraka, freePort } from './harness.js'
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
    program = work.shell(
      'maybe-slow',
      `cat > /dev/null\n[ "$1" = slow ] && touch "${work.path('slow-started')}" && sleep 8\nexit 0`,
    )
    haraka = await Haraka.start({ hostList: ['one.test', 'two.test'], ini: ini('one') })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  const edit = (text: string): void => haraka.writeIni(text)
  const reloads = (): number =>
    haraka.log.split('\n').filter((line) => line.includes('[pipe_transport] reloaded ')).length

  it('applies a good edit without a restart; a running delivery finishes under the config it started with', async () => {
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version one')
    const slow = reply(haraka, 'slow@one.test')
    while (!existsSync(work.path('slow-started'))) await new Promise((r) => setTimeout(r, 25))
    edit(ini('two', '[two]\ndomain = two.test\n'))
    await haraka.waitForLog(
      /\[pipe_transport\] reloaded \S+pipe_transport\.ini in \d+ ms: \[one\] one\.test; \[two\] two\.test/,
    )
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version two')
    assert.equal(await reply(haraka, 'x@two.test'), '250 Message Queued')
    assert.equal(await slow, '250 2.0.0 version one')
  })

  it('logs a bad edit with the same messages as at start, and keeps the last good config', async () => {
    const before = reloads()
    edit(ini('three', '[two]\ndomain = two.test\ntiemout = 5\n\n[three]\ndomain = one.test\n'))
    await haraka.waitForLog(
      /\[pipe_transport\] \S+pipe_transport\.ini: not reloaded, the last good config stays in force/,
    )
    assert.match(
      haraka.log,
      /\[CRIT\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini \[two\] tiemout: unknown key; did you mean "timeout"\?/,
    )
    assert.match(
      haraka.log,
      /\[CRIT\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini \[three\] domain: one\.test is already routed by \[one\]/,
    )
    assert.equal(reloads(), before)
    assert.ok(haraka.running)
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version two')
    assert.equal(await reply(haraka, 'x@two.test'), '250 Message Queued')
  })

  it('refuses an edit with a key set twice or a line haraka-config drops, and keeps the last good config', async () => {
    const before = reloads()
    edit(`${ini('four')}\n[one.env]\nSTAGE = a\nSTAGE = b\n"QUOTED" = c\n`)
    await haraka.waitForLog(
      /\[one\.env\] STAGE: is set on lines \d+ and \d+: [^\n]*\n(?:[^\n]*\n)*?[^\n]*\[one\.env\] "QUOTED": line \d+ is dropped by haraka-config[^\n]*\n(?:[^\n]*\n)*?[^\n]*not reloaded, the last good config stays in force/,
    )
    assert.equal(reloads(), before)
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version two')
  })
})

describe('a removed or emptied pipe_transport.ini', () => {
  let haraka: Haraka
  const file = (): string => join(haraka.dir, 'config', 'pipe_transport.ini')
  const config = (version: string): string =>
    `[one]\nprogram_name = /bin/cat\ndomain = one.test\n\n[one.code]\n0 = 250 2.0.0 version ${version}\n`
  const reloads = (): number =>
    haraka.log.split('\n').filter((line) => line.includes('[pipe_transport] reloaded ')).length

  before(async () => {
    haraka = await Haraka.start({ hostList: ['one.test'], ini: config('one') })
  })

  after(async () => {
    await haraka?.stop()
  })

  it('emptied: reloaded, with a warning that nothing is routed', async () => {
    writeFileSync(file(), '')
    await haraka.waitForLog(
      /\[WARN\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini holds no instance, so pipe_transport routes nothing; add one \(see docs\/configuration\.md\)/,
    )
    await haraka.waitForLog(
      /\[pipe_transport\] reloaded \S+pipe_transport\.ini in \d+ ms: no instances, nothing is routed/,
    )
    assert.equal(await reply(haraka, 'x@one.test'), '451 ')
    haraka.writeIni(config('two'))
    await haraka.waitForLog(/\[pipe_transport\] reloaded \S+pipe_transport\.ini in \d+ ms: \[one\] one\.test/)
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version two')
  })
  it('removed: a warning, and the last good config stays in force', async () => {
    const before = reloads()
    const nothingRouted = (): number => haraka.log.split('routes nothing').length
    const warned = nothingRouted()
    rmSync(file())
    await haraka.waitForLog(
      /\[WARN\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini was removed; keeping the last good config/,
    )
    assert.equal(reloads(), before)
    assert.equal(nothingRouted(), warned)
    assert.equal(await reply(haraka, 'x@one.test'), '250 2.0.0 version two')
  })
})

describe('an empty pipe_transport.ini at start', () => {
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({ hostList: ['one.test'], config: { 'pipe_transport.ini': '' } })
  })

  after(async () => {
    await haraka?.stop()
  })

  it('is a warning that nothing is routed', async () => {
    assert.match(
      haraka.log,
      /\[WARN\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini holds no instance, so pipe_transport routes nothing; add one \(see docs\/configuration\.md\)/,
    )
    assert.match(
      haraka.log,
      /\[pipe_transport\] loaded \S+pipe_transport\.ini in \d+ ms: no instances, nothing is routed/,
    )
    assert.equal(await reply(haraka, 'x@one.test'), '451 ')
  })
})

describe('the transaction line of a message the journal defers', () => {
  let haraka: Haraka

  before(async () => {
    // A Redis journal where nothing listens: every begin fails, and the message is deferred.
    const port = await freePort()
    haraka = await Haraka.start({
      hostList: ['one.test'],
      ini: `[main]\njournal = redis://127.0.0.1:${port}/0\njournal_unavailable = defer\n\n[one]\nprogram_name = /bin/cat\ndomain = one.test\n`,
    })
  })

  after(async () => {
    await haraka?.stop()
  })

  it('names the recipients it deferred', async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['a@one.test', 'b@one.test'],
      message: MESSAGE,
    })
    assert.equal(reply?.code, 450)
    assert.match(reply?.text ?? '', /^4\.3\.0 pipe transport delivery journal unavailable, try again later/)
    await haraka.waitForLog(
      /\[WARN\] .*\[pipe_transport\] transaction queue_id=\S+ recipients=2 runs=0 rcpt=a@one\.test,b@one\.test reply="450 4\.3\.0 pipe transport delivery journal unavailable, try again later \(2 of 2 recipients not delivered: a@one\.test, b@one\.test\)" failed=a@one\.test,b@one\.test/,
    )
    // The journal's own line says why, and nothing after it (Haraka printed "undefined" there).
    assert.match(haraka.log, /deferring the message \(journal_unavailable = defer\)$/m)
  })
})

describe('an inline comment at a live reload', () => {
  const work = new Scratch()
  let haraka: Haraka
  const ini = (route: string): string =>
    `[rt]\nprogram_name = ${work.path('rt')}\narguments = --queue \${route_data}\n\n[rt.address]\nbilling@rt.test = ${route}\n`

  before(async () => {
    work.shell('rt', `cat > /dev/null\nprintf '%s\\n' "$@" >> "${work.path('argv')}"`)
    haraka = await Haraka.start({ hostList: ['rt.test'], ini: ini('billing') })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('is refused as at start, and the last good config stays: the route data is still "billing"', async () => {
    haraka.writeIni(ini('billing   ; the billing queue'))
    await haraka.waitForLog(
      /\[CRIT\] \[-\] \[pipe_transport\] \S+pipe_transport\.ini \[rt\.address\] billing@rt\.test: "; the billing queue" would be part of the value: inline comments are not comments in haraka-config ini; put the comment on a line of its own\n(?:[^\n]*\n)*?[^\n]*pipe_transport\.ini: not reloaded, the last good config stays in force/,
    )
    assert.equal(await reply(haraka, 'billing@rt.test'), '250 Message Queued')
    assert.deepEqual(work.takeLines('argv'), ['--queue', 'billing'])
  })
})

describe('no pipe_transport.ini', () => {
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({ hostList: ['later.test'] })
  })

  after(async () => {
    await haraka?.stop()
  })

  it('is a warning at start; routes nothing until the file is written, then reloads it', async () => {
    assert.match(
      haraka.log,
      /\[WARN\] \[-\] \[pipe_transport\] \S+\/config\/pipe_transport\.ini is missing, so pipe_transport routes nothing; write it/,
    )
    assert.match(
      haraka.log,
      /\[pipe_transport\] loaded \S+pipe_transport\.ini in \d+ ms: no instances, nothing is routed/,
    )
    assert.equal(await reply(haraka, 'x@later.test'), '451 ')
    haraka.writeIni(
      '[later]\nprogram_name = /bin/cat\ndomain = later.test\n\n[later.code]\n0 = 250 2.0.0 written later\n',
    )
    await haraka.waitForLog(/\[pipe_transport\] reloaded \S+pipe_transport\.ini in \d+ ms: \[later\] later\.test/)
    assert.equal(await reply(haraka, 'x@later.test'), '250 2.0.0 written later')
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
      for (const [, key = '', quoted, bare] of line.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))/g))
        fields[key] = quoted ?? bare ?? ''
      return fields
    }

    for (const [rcpt, level, ended, replyText, result] of [
      ['0@log.test', 'INFO', 'exit 0', '250', { pass: ['logged'], fail: [], err: [] }],
      [
        '67@log.test',
        'WARN',
        'exit 67',
        '550 5.1.1 no such user (EX_NOUSER, exit status 67)',
        { pass: [], fail: ['logged: exit 67'], err: [] },
      ],
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
        const observed = await haraka.waitForLog(
          new RegExp(
            `${queueId.replaceAll('.', '\\.')}.*results (\\{[^}]*\\})|results (\\{[^}]*\\}).*${queueId.replaceAll('.', '\\.')}`,
          ),
        )
        const json = (observed[1] ?? observed[2] ?? '{}').replaceAll('\\"', '"')
        assert.deepEqual(JSON.parse(json), result)
      })
    }
  })
}
