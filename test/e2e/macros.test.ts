// Postfix's macros where Haraka knows the value: ${size}, ${client_address}, ${client_helo},
// ${sasl_username} (a client that authenticated, through Haraka's auth/flat_file) and ${envid}
// (where a plugin advertises DSN, so that a client sends ENVID), in argv and in the environment.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const ADVERTISE_DSN = `exports.hook_capabilities = function (next, connection) {
  connection.capabilities.push('DSN')
  next()
}
`
const MESSAGE = crlf(['Subject: macros', '', 'body', '..a line that starts with a dot'])

interface Seen {
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string>>
}

describe("Postfix's macros", () => {
  const work = new Scratch()
  let haraka: Haraka
  const seen = (): Seen[] => work.takeLines('seen.jsonl').map((line) => JSON.parse(line) as Seen)

  before(async () => {
    const record = work.node(
      'record',
      `process.stdin.resume()
process.stdin.on('end', () => {
  const pick = ['SIZE', 'SASL_USERNAME', 'ENVID', 'CLIENT_ADDRESS', 'CLIENT_HELO']
  const env = Object.fromEntries(pick.map((name) => [name, process.env[name]]))
  require('fs').appendFileSync(${JSON.stringify(work.path('seen.jsonl'))}, JSON.stringify({ argv: process.argv.slice(2), env }) + '\\n')
})`,
    )
    haraka = await Haraka.start({
      hostList: ['macros.test'],
      plugins: ['advertise_dsn', 'auth/flat_file', 'rcpt_to.in_host_list', 'pipe_transport'],
      extraPlugins: { advertise_dsn: work.file('advertise_dsn.js', ADVERTISE_DSN) },
      config: {
        'auth_flat_file.ini': '[core]\nmethods=PLAIN,LOGIN\nconstrain_sender=false\n\n[users]\nalice=secret\n',
      },
      ini: `
[macros]
program_name = ${record}
arguments = size=\${size} user=\${sasl_username} envid=\${envid} from=\${client_address} helo=\${client_helo}
domain = macros.test
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('gives the size, the client, the authenticated name and ENVID, in argv and environment', async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['x@macros.test'],
      message: MESSAGE,
      auth: { user: 'alice', pass: 'secret' },
      dsn: { envid: 'QQ314159' },
    })
    assert.equal(reply?.code, 250)
    // The DATA bytes as Haraka counts them: the dot-stuffed line and the final ".\r\n" included.
    const size = String(Buffer.byteLength(MESSAGE) + 1 + 3)
    assert.deepEqual(seen(), [
      {
        argv: [`size=${size}`, 'user=alice', 'envid=QQ314159', 'from=127.0.0.1', 'helo=client.test'],
        env: {
          SIZE: size,
          SASL_USERNAME: 'alice',
          ENVID: 'QQ314159',
          CLIENT_ADDRESS: '127.0.0.1',
          CLIENT_HELO: 'client.test',
        },
      },
    ])
  })

  it('gives empty words where the client did not authenticate or give ENVID', async () => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@macros.test'], message: MESSAGE })
    assert.equal(reply?.code, 250)
    const [run] = seen()
    assert.deepEqual(run?.argv.slice(1, 3), ['user=', 'envid='])
    assert.deepEqual([run?.env['SASL_USERNAME'], run?.env['ENVID']], ['', ''])
  })
})
