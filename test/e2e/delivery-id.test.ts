// DELIVERY_ID and ${delivery_id}: the same for every retry of a message to a recipient on every MX
// host (two Harakas sharing a Redis journal, and a third with journal = off), different for
// another message or recipient; and the two ways docs/configuration.md shows a back end dropping
// a duplicate with it, a wrapper script and procmail with formail's duplicate cache, run for real.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { RedisServer } from '../journal/redis-server.js'
import { Haraka, REPO } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const PROCMAIL = '/usr/bin/procmail'
if (!existsSync(PROCMAIL)) throw new Error(`missing ${PROCMAIL}: install Debian's procmail (.ci/run does)`)

interface Run {
  readonly mx: string
  readonly argv: readonly string[]
  readonly id: string
}

/**
 * Records each run: the MX it ran on, its argv and DELIVERY_ID. On mx1 a recipient whose local part
 * starts with "flaky" fails temporarily (exit 75), as a back end that is down there.
 */
function recorder(work: Scratch): string {
  return work.node(
    'record',
    `process.stdin.resume()
process.stdin.on('end', () => {
  const argv = process.argv.slice(2)
  const run = { mx: process.env.MX, argv, id: process.env.DELIVERY_ID }
  require('fs').appendFileSync(${JSON.stringify(work.path('runs.jsonl'))}, JSON.stringify(run) + '\\n')
  process.exitCode = process.env.MX === 'mx1' && argv[0].startsWith('flaky') ? 75 : 0
})`,
  )
}

function iniFor(work: Scratch, mx: string, journal: string): string {
  return `
[main]
program_name = ${recorder(work)}
code_preset = sysexits
${journal}

[main.env]
MX = ${mx}

[one]
arguments = \${recipient}=\${delivery_id}
domain = one.test
recipient_limit = 1

[many]
arguments = \${recipient}=\${delivery_id}
domain = many.test
`
}

let seq = 0
const message = (): string =>
  crlf([`Message-ID: <id-${process.pid}-${++seq}@origin.test>`, 'Subject: delivery id', '', `body ${seq}`])

describe('the delivery id', () => {
  const work = new Scratch()
  let redis: RedisServer
  let mx1: Haraka
  let mx2: Haraka
  let offline: Haraka
  const send = async (haraka: Haraka, to: string[], text: string): Promise<number | undefined> =>
    (await sendMail(haraka.port, { from: 's@origin.test', to, message: text })).reply?.code
  const runs = (): Run[] => work.takeLines('runs.jsonl').map((line) => JSON.parse(line) as Run)

  before(async () => {
    redis = await RedisServer.start()
    ;[mx1, mx2, offline] = await Promise.all([
      Haraka.start({ hostList: ['one.test', 'many.test'], ini: iniFor(work, 'mx1', `journal = ${redis.url}`) }),
      Haraka.start({ hostList: ['one.test', 'many.test'], ini: iniFor(work, 'mx2', `journal = ${redis.url}`) }),
      Haraka.start({ hostList: ['one.test', 'many.test'], ini: iniFor(work, 'mx3', 'journal = off') }),
    ])
  })

  after(async () => {
    await Promise.all([mx1?.stop(), mx2?.stop(), offline?.stop()])
    await redis?.remove()
    work.remove()
  })

  it('is the same for the retry on another MX host, and with no journal at all; different otherwise', async () => {
    const first = message()
    // mx1 delivers b, and flaky fails there: 450. The sender retries at mx2, which runs only flaky.
    assert.equal(await send(mx1, ['flaky@one.test', 'b@one.test'], first), 450)
    const atMx1 = runs()
    assert.equal(await send(mx2, ['flaky@one.test', 'b@one.test'], first), 250)
    const atMx2 = runs()
    assert.deepEqual(
      atMx2.map((run) => `${run.mx} ${run.argv[0]?.split('=')[0]}`),
      ['mx2 flaky@one.test'],
    )
    const idOf = (found: readonly Run[], rcpt: string): string =>
      found.find((run) => run.argv[0]?.startsWith(`${rcpt}=`))?.id ?? ''
    const flaky = idOf(atMx1, 'flaky@one.test')
    assert.match(flaky, /^[0-9a-f]{32}$/)
    assert.equal(idOf(atMx2, 'flaky@one.test'), flaky, 'the same on the next MX')
    // ${delivery_id} in the arguments is the same value as DELIVERY_ID.
    assert.equal(atMx2[0]?.argv[0], `flaky@one.test=${flaky}`)
    assert.notEqual(idOf(atMx1, 'b@one.test'), flaky, 'another recipient, another id')

    // With journal = off the same message runs each time it comes, always with the same id.
    assert.equal(await send(offline, ['flaky@one.test'], first), 250)
    assert.equal(await send(offline, ['flaky@one.test'], first), 250)
    assert.deepEqual(
      runs().map((run) => run.id),
      [flaky, flaky],
    )
    // Another message to the same recipient: another id.
    assert.equal(await send(offline, ['flaky@one.test'], message()), 250)
    const [other] = runs()
    assert.match(other?.id ?? '', /^[0-9a-f]{32}$/)
    assert.notEqual(other?.id, flaky)
  })

  it('in a run of several recipients: one ${delivery_id} each, and DELIVERY_ID that of the first', async () => {
    assert.equal(await send(offline, ['x@many.test', 'y@many.test'], message()), 250)
    const [run] = runs()
    const ids = (run?.argv ?? []).map((word) => word.split('=')[1] ?? '')
    assert.deepEqual(
      (run?.argv ?? []).map((word) => word.split('=')[0]),
      ['x@many.test', 'y@many.test'],
    )
    assert.equal(new Set(ids).size, 2)
    assert.equal(run?.id, ids[0])
  })
})

/** The block after `<!-- delivery-id: NAME -->` in docs/configuration.md. */
function documented(name: string): string {
  const page = readFileSync(join(REPO, 'docs', 'configuration.md'), 'utf8')
  const block = new RegExp(`<!-- delivery-id: ${name} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(page)?.[1]
  if (block === undefined) throw new Error(`docs/configuration.md has no <!-- delivery-id: ${name} --> block`)
  return block
}

describe("a back end drops a duplicate by its DELIVERY_ID (docs/configuration.md's ways)", () => {
  const work = new Scratch()
  let haraka: Haraka
  const inbox = work.path('procmail')
  const delivered = work.path('delivered.mbox')
  const send = async (to: string, text: string): Promise<string> => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: [to], message: text })
    return `${reply?.code}`
  }

  before(async () => {
    mkdirSync(inbox)
    mkdirSync(work.path('ids'))
    const once = work.shell('deliver-once', documented('deliver-once').replace(/^#!\/bin\/sh\n/, ''))
    const deliver = work.shell('deliver', `cat >> "${delivered}"`)
    const rc = work.file('once.rc', documented('procmailrc').replace(/^MAILDIR=.*$/m, `MAILDIR=${inbox}`))
    haraka = await Haraka.start({
      hostList: ['script.test', 'procmail.test'],
      // journal = off: every copy of a message runs, as after a run killed at its timeout when
      // the back end had already taken it; only the back end can know.
      ini: `
[script]
program_name = ${once}
arguments = ${work.path('ids')} ${deliver}
domain = script.test

[procmail]
program_name = ${PROCMAIL}
arguments = -m ${rc} \${delivery_id}
domain = procmail.test
recipient_limit = 1
code_preset = sysexits
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('a wrapper script runs the delivery once per delivery id', async () => {
    const first = message()
    assert.equal(await send('t@script.test', first), '250')
    assert.equal(await send('t@script.test', first), '250')
    assert.equal(await send('t@script.test', message()), '250')
    assert.equal(readFileSync(delivered, 'latin1').match(/^Subject: delivery id$/gm)?.length, 2)
    assert.equal(readdirSync(work.path('ids')).length, 2)
  })

  it("procmail with formail's duplicate cache files each delivery once", async () => {
    const first = message()
    assert.equal(await send('t@procmail.test', first), '250')
    assert.equal(await send('t@procmail.test', first), '250')
    assert.equal(await send('u@procmail.test', first), '250')
    assert.equal(await send('t@procmail.test', message()), '250')
    // Three deliveries: the first message to t and to u, the second to t; its copy was dropped.
    assert.equal(readdirSync(join(inbox, 'inbox', 'new')).length, 3)
  })
})
