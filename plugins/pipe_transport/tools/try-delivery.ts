// Delivers one message file through a Haraka install dir's configuration and prints every SMTP
// reply: a way to try pipe_transport.ini before trusting it with mail.
//
//   node plugins/pipe_transport/tools/try-delivery.js -c /etc/haraka --from a@example.org \
//        --to someone@example.com [--to ...] --message message.eml
//
// Haraka 3.3's own test mode (`haraka -t`) cannot do this: its stand-in client has `remote.address`
// where Connection.setupClient reads `remoteAddress`, so every test connection is dropped before
// the first hook runs. This script uses Haraka's own code instead, as Haraka's server does: it loads
// the install dir's plugins (config/plugins) and hands a loopback connection to Haraka's
// Connection. Nothing listens beyond this process, and the message takes the same path as in a
// running Haraka, through every plugin the config lists.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

interface HarakaPlugins {
  server: unknown
  load_plugins(): void
}
interface HarakaConnectionModule {
  createConnection(client: Socket, server: unknown, cfg: unknown): unknown
}

const USAGE = 'usage: try-delivery.js -c HARAKA_DIR --from SENDER --to RECIPIENT [--to ...] --message FILE'

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      configs: { type: 'string', short: 'c' },
      from: { type: 'string', default: '' },
      to: { type: 'string', multiple: true },
      message: { type: 'string' },
      helo: { type: 'string', default: 'try-delivery.local' },
    },
  })
  if (!values.configs || !values.to?.length || !values.message) {
    console.error(USAGE)
    return 2
  }
  const message = readFileSync(values.message)
  const installDir = resolve(values.configs)
  // As bin/haraka does for `-c DIR`: Haraka's modules find the config through this.
  process.env['HARAKA'] = installDir
  const haraka = createRequire(require.resolve('haraka/package.json', { paths: [installDir, process.cwd(), __dirname] }))
  const harakaDir = dirname(haraka.resolve('haraka/package.json'))
  const plugins = haraka(join(harakaDir, 'plugins')) as HarakaPlugins
  const connections = haraka(join(harakaDir, 'connection')) as HarakaConnectionModule
  const smtpConfig = (haraka('haraka-config') as { get(name: string): unknown }).get('smtp.ini')

  const server = createServer()
  const harakaServer = { address: () => server.address(), cfg: smtpConfig, notes: {} }
  plugins.server = harakaServer
  plugins.load_plugins()
  server.on('connection', (socket) => connections.createConnection(socket, harakaServer, smtpConfig))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')

  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const replies = new ReplyReader(client)
  /** Sends a command (shown as `shown`), prints the reply and returns it. */
  const say = async (command: string | undefined, shown = command): Promise<string> => {
    if (command !== undefined) {
      console.log(`>>> ${shown}`)
      client.write(`${command}\r\n`)
    }
    const reply = await replies.next()
    console.log(reply.split('\r\n').map((line) => `<<< ${line}`).join('\n'))
    return reply
  }

  let ok = (await say(undefined)).startsWith('2') && (await say(`EHLO ${values.helo}`)).startsWith('2')
  ok &&= (await say(`MAIL FROM:<${values.from}>`)).startsWith('2')
  let accepted = 0
  for (const rcpt of values.to) if (ok && (await say(`RCPT TO:<${rcpt}>`)).startsWith('2')) accepted++
  let final = ''
  if (ok && accepted > 0 && (await say('DATA')).startsWith('3')) {
    final = await say(`${dotStuff(message.toString('latin1'))}.`, `(${message.length} bytes of ${values.message}, then ".")`)
  }
  await say('QUIT')
  client.destroy()
  server.close()
  // The exit status tells scripts whether the message was accepted; Haraka's modules keep timers
  // (outbound queue, config watchers) that would hold the process, so the caller exits.
  return final.startsWith('250') ? 0 : 1
}

/** SMTP transparency (RFC 5321 4.5.2) and CRLF line ends, as a client sends the message. */
function dotStuff(text: string): string {
  const body = text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
  return body.endsWith('\r\n') ? body : `${body}\r\n`
}

/** Reads whole (possibly multi-line) SMTP replies from a socket. */
class ReplyReader {
  private buffered = ''
  private readonly waiting: Array<() => void> = []

  constructor(socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.buffered += chunk
      this.waiting.splice(0).forEach((wake) => wake())
    })
  }

  async next(): Promise<string> {
    for (;;) {
      const end = /^\d{3} .*\r\n/m.exec(this.buffered)
      if (end) {
        const reply = this.buffered.slice(0, end.index + end[0].length)
        this.buffered = this.buffered.slice(reply.length)
        return reply.trimEnd()
      }
      await new Promise<void>((wake) => this.waiting.push(wake))
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
