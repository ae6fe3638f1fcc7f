// Internationalised mail (RFC 6530-6532): a client that sends SMTPUTF8 and writes the U-label
// (kundendienst@bücher.example) or a UTF-8 local part (müller@example.com) reaches its program, which
// gets the addresses, the envelope headers and the message byte for byte; the A-label form routes
// the same; the Delivered-To: loop check knows the unquoted UTF-8 form Postfix writes; and the try
// command prints UTF-8 replies as UTF-8.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Haraka, REPO } from './harness.js'
import { Scratch, afterReceivedHeader } from './fixtures.js'
import { sendMail } from './smtp.js'

interface Run {
  readonly argv: string[]
  readonly env: Record<string, string>
  /** What the program read on stdin, as base64. */
  readonly stdin: string
}

/** Logs the parameters of each MAIL FROM, to see that the client asked for SMTPUTF8. */
const MAIL_PARAMS_PLUGIN = `
exports.hook_mail = function (next, connection, params) {
  connection.loginfo(this, 'mail params ' + JSON.stringify(params[1]))
  next()
}
`

describe('internationalised addresses', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    const recorder = work.node(
      'recorder',
      `const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const env = {}
  for (const name of ['RECIPIENT', 'LOCAL', 'USER', 'DOMAIN', 'ORIGINAL_RECIPIENT', 'ROUTE_DATA', 'SENDER']) env[name] = process.env[name]
  const run = { argv: process.argv.slice(2), env, stdin: Buffer.concat(chunks).toString('base64') }
  require('fs').appendFileSync(${JSON.stringify(work.path('runs.jsonl'))}, JSON.stringify(run) + '\\n')
})`,
    )
    haraka = await Haraka.start({
      plugins: ['mail_params', 'pipe_transport'],
      extraPlugins: { mail_params: work.file('mail_params.js', MAIL_PARAMS_PLUGIN) },
      ini: `
[shop]
program_name = ${recorder}
arguments = \${recipient} \${user} \${domain} \${original_recipient}
domain = bücher.example
check_recipient = true
recipient_limit = 1
delivered_to = true
x_original_to = true

[people]
program_name = ${recorder}
arguments = \${sender} \${recipient} \${user} \${domain} \${route_data}
check_recipient = true
recipient_limit = 1
delivered_to = true
return_path = true

[people.address]
müller@example.com = müllers-postfach

[people.code]
0 = 250 2.0.0 zugestellt für müller
`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  const runs = (): Run[] =>
    work
      .take('runs.jsonl')
      .toString()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Run)

  /** What the program read, split at Haraka's Received: header: the lines before it, and the message after it. */
  const stdinOf = (run: Run | undefined): { preface: Buffer; message: Buffer } => {
    const stdin = Buffer.from(run?.stdin ?? '', 'base64')
    const received = stdin.indexOf('Received: ')
    return { preface: stdin.subarray(0, received), message: afterReceivedHeader(stdin.subarray(received)) }
  }

  const message = Buffer.from('From: Jörg <jörg@origin.test>\r\nSubject: Grüße\r\n\r\nHällo, 世界\r\n', 'utf8')
  /** The message as the program reads it after the Received: header: LF line ends. */
  const asRead = Buffer.from('From: Jörg <jörg@origin.test>\nSubject: Grüße\n\nHällo, 世界\n', 'utf8')

  it('delivers kundendienst@bücher.example over SMTPUTF8 byte for byte, with the domain as the client wrote it', async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 'bob@origin.test',
      to: ['Kundendienst@Bücher.example'],
      message,
    })
    assert.equal(reply?.code, 250, reply?.text)
    // Haraka's parse of `MAIL FROM:<...> SMTPUTF8`, a parameter without a value.
    await haraka.waitForLog(/mail params \{"SMTPUTF8":null\}/)
    const [run, ...more] = runs()
    assert.equal(more.length, 0)
    assert.deepEqual(run?.argv, [
      'Kundendienst@Bücher.example',
      'Kundendienst',
      'bücher.example',
      'Kundendienst@Bücher.example',
    ])
    assert.deepEqual(run?.env, {
      RECIPIENT: 'Kundendienst@Bücher.example',
      LOCAL: 'Kundendienst',
      USER: 'Kundendienst',
      DOMAIN: 'bücher.example',
      ORIGINAL_RECIPIENT: 'Kundendienst@Bücher.example',
      ROUTE_DATA: '',
      SENDER: 'bob@origin.test',
    })
    const { preface, message: read } = stdinOf(run)
    assert.deepEqual(
      preface,
      Buffer.from('X-Original-To: Kundendienst@Bücher.example\nDelivered-To: Kundendienst@Bücher.example\n', 'utf8'),
    )
    assert.deepEqual(read, asRead)
  })

  it('routes the A-label form of the same domain to the same instance', async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 'bob@origin.test',
      to: ['kundendienst@xn--bcher-kva.example'],
      message,
    })
    assert.equal(reply?.code, 250, reply?.text)
    const [run] = runs()
    assert.deepEqual(run?.argv, [
      'kundendienst@xn--bcher-kva.example',
      'kundendienst',
      'xn--bcher-kva.example',
      'kundendienst@xn--bcher-kva.example',
    ])
  })

  it('delivers müller@example.com from jörg@origin.test, the UTF-8 local parts unquoted in headers and macros', async () => {
    const { reply } = await sendMail(haraka.port, { from: 'jörg@origin.test', to: ['müller@example.com'], message })
    assert.equal(reply?.code, 250, reply?.text)
    assert.match(reply?.text ?? '', /^2\.0\.0 zugestellt für müller \(\S+\)$/)
    const [run] = runs()
    assert.deepEqual(run?.argv, ['jörg@origin.test', 'müller@example.com', 'müller', 'example.com', 'müllers-postfach'])
    const { preface, message: read } = stdinOf(run)
    assert.deepEqual(
      preface,
      Buffer.from('Return-Path: <jörg@origin.test>\nDelivered-To: müller@example.com\n', 'utf8'),
    )
    assert.deepEqual(read, asRead)
  })

  it('refuses a message that already has Delivered-To: müller@example.com, as Postfix writes it, without a run', async () => {
    for (const header of ['müller@example.com', '"müller"@example.com', 'Müller@EXAMPLE.com']) {
      const looped = Buffer.concat([Buffer.from(`Delivered-To: ${header}\r\n`, 'utf8'), message])
      const { reply } = await sendMail(haraka.port, {
        from: 'bob@origin.test',
        to: ['müller@example.com'],
        message: looped,
      })
      assert.equal(
        `${reply?.code} ${reply?.text.replace(/ \(\S+\)$/, '')}`,
        '550 5.4.6 mail forwarding loop for müller@example.com',
        header,
      )
    }
    assert.deepEqual(runs(), [])
  })

  it('pipe-transport-try prints the UTF-8 replies as UTF-8', async () => {
    const file = work.file('message.eml', message.toString('utf8'))
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(REPO, 'node_modules', '.bin')}:/usr/bin:/bin` }
      delete env['HARAKA']
      const tool = join(haraka.dir, 'plugins', 'pipe_transport', 'tools', 'pipe-transport-try.js')
      execFile(
        process.execPath,
        [tool, '-c', haraka.dir, '--from', 'jörg@origin.test', '--to', 'müller@example.com', '--message', file],
        { cwd: tmpdir(), env, encoding: 'utf8' },
        (err, stdout, stderr) =>
          done({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
      )
    })
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /^>>> MAIL FROM:<jörg@origin\.test> SMTPUTF8$/m)
    assert.match(run.stdout, /^<<< 250 recipient <müller@example\.com> OK$/m)
    assert.match(run.stdout, /^<<< 250 2\.0\.0 zugestellt für müller \(\S+\)$/m)
    // The message went as the file's bytes: UTF-8, not each byte above 0x7f made two.
    const [tried] = runs()
    assert.deepEqual(stdinOf(tried).message, asRead)
    assert.equal(readFileSync(file).length, message.length)
  })
})
