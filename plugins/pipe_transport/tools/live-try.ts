// The try command without --dry-run: one message through an install dir's whole configuration,
// printing every SMTP reply, with the programs really running.
//
// Haraka 3.3's own test mode (`haraka -t`) cannot do this: its stand-in client has `remote.address`
// where Connection.setupClient reads `remoteAddress`, so every test connection is dropped before
// the first hook runs. This uses Haraka's own code instead, as Haraka's server does: it loads the
// install dir's plugins (config/plugins) and hands a loopback connection to Haraka's Connection.
// Nothing listens beyond this process, and the message takes the same path as in a running
// Haraka, through every plugin the config lists.
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'

interface HarakaPlugins {
  server: unknown
  load_plugins(): void
}
interface HarakaConnectionModule {
  createConnection(client: Socket, server: unknown, cfg: unknown): unknown
}
/** haraka-config's parse of smtp.ini. */
interface SmtpIni {
  readonly main?: Readonly<Record<string, unknown>>
}

export interface LiveTry {
  /** Haraka's package directory; HARAKA must already name the install dir. */
  readonly harakaDir: string
  readonly smtpIni: SmtpIni
  readonly from: string
  readonly to: readonly string[]
  readonly helo: string
  readonly message: Buffer
  readonly messageName: string
}

/** Resolves with the command's exit status: 0 when the message was answered 250. */
export async function tryLive(delivery: LiveTry): Promise<number> {
  const haraka = createRequire(join(delivery.harakaDir, 'package.json'))
  const plugins = haraka(join(delivery.harakaDir, 'plugins')) as HarakaPlugins
  const connections = haraka(join(delivery.harakaDir, 'connection')) as HarakaConnectionModule

  // Read by the plugin's runner as it loads: each program's stderr is shown here too (run-program.ts).
  process.env['PIPE_TRANSPORT_ECHO_STDERR'] = '1'
  const server = createServer()
  // One process, whatever smtp.ini's `nodes` says: no cluster master or workers here.
  const cfg = { ...delivery.smtpIni, main: { ...delivery.smtpIni.main, nodes: 0 } }
  const harakaServer = { address: () => server.address(), cfg, notes: {} }
  plugins.server = harakaServer
  try {
    plugins.load_plugins()
  } catch (err) {
    // Haraka holds its log lines until the plugins are loaded; they say what went wrong.
    ;(haraka(join(delivery.harakaDir, 'logger')) as { dump_logs(): void }).dump_logs()
    throw err
  }
  server.on('connection', (socket) => connections.createConnection(socket, harakaServer, cfg))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')

  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const replies = new ReplyReader(client)
  /** Sends a command, UTF-8 or the bytes given (shown as `shown`), prints the reply and returns it. */
  const say = async (command: string | Buffer | undefined, shown = String(command)): Promise<string> => {
    if (command !== undefined) {
      console.log(`>>> ${shown}`)
      client.write(Buffer.concat([typeof command === 'string' ? Buffer.from(command, 'utf8') : command, CRLF]))
    }
    const reply = await replies.next()
    console.log(
      reply
        .split('\r\n')
        .map((line) => `<<< ${line}`)
        .join('\n'),
    )
    return reply
  }

  const greeting = await say(undefined)
  const ehlo = greeting.startsWith('2') ? await say(`EHLO ${delivery.helo}`) : ''
  let ok = ehlo.startsWith('2')
  // RFC 6531: an address with UTF-8 in it needs the SMTPUTF8 parameter, where the server offers it.
  const utf8 =
    [delivery.from, ...delivery.to].some((address) => NON_ASCII.test(address)) && /^250[ -]SMTPUTF8\b/im.test(ehlo)
  ok &&= (await say(`MAIL FROM:<${delivery.from}>${utf8 ? ' SMTPUTF8' : ''}`)).startsWith('2')
  let accepted = 0
  for (const rcpt of delivery.to) if (ok && (await say(`RCPT TO:<${rcpt}>`)).startsWith('2')) accepted++
  let final = ''
  if (ok && accepted > 0 && (await say('DATA')).startsWith('3')) {
    const { message } = delivery
    // The message's own bytes: latin1 maps each byte to one character and back.
    final = await say(
      Buffer.from(`${dotStuff(message.toString('latin1'))}.`, 'latin1'),
      `(${message.length} bytes of ${delivery.messageName}, then ".")`,
    )
  }
  await say('QUIT')
  client.destroy()
  server.close()
  return final.startsWith('250') ? 0 : 1
}

const CRLF = Buffer.from('\r\n')
/** Any character beyond ASCII (a UTF-16 unit of U+0080 or above). */
const NON_ASCII = /[\u0080-\uffff]/

/** SMTP transparency (RFC 5321 4.5.2) and CRLF line ends, as a client sends the message. */
function dotStuff(text: string): string {
  const body = text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
  return body.endsWith('\r\n') ? body : `${body}\r\n`
}

/** Reads whole (possibly multi-line) SMTP replies from a socket. */
class ReplyReader {
  private buffered = ''
  private readonly waiting: (() => void)[] = []

  constructor(socket: Socket) {
    // Replies may be UTF-8 (RFC 6531: an address in a reply text, say).
    socket.setEncoding('utf8')
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
