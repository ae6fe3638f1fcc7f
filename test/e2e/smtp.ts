// Sends mail with nodemailer's SMTP client and reports the server's replies as code and text.
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import type { NodemailerError } from 'nodemailer/lib/errors'

export interface SmtpReply {
  readonly code: number
  /** The reply text after the code, e.g. `2.0.0 delivered (QUEUE-ID)`. */
  readonly text: string
}

export interface SendResult {
  /** Reply to the final dot; undefined when no recipient was accepted. */
  readonly reply: SmtpReply | undefined
  /** Replies to refused RCPT commands, by recipient. */
  readonly refused: ReadonlyMap<string, SmtpReply>
}

export interface Mail {
  /** '' sends the null sender `<>`. */
  readonly from: string
  readonly to: readonly string[]
  readonly message: string | Buffer
  /**
   * RFC 3461's parameters: RET and ENVID on MAIL FROM, NOTIFY and ORCPT on every RCPT TO. nodemailer
   * sends them only to a server that advertises DSN.
   */
  readonly dsn?: {
    readonly ret?: 'FULL' | 'HDRS'
    readonly envid?: string
    readonly notify?: 'NEVER' | readonly ('SUCCESS' | 'FAILURE' | 'DELAY')[]
    readonly orcpt?: string
  }
  /** SMTP AUTH (PLAIN or LOGIN) before MAIL FROM. */
  readonly auth?: { readonly user: string; readonly pass: string }
}

export function parseReply(response: string): SmtpReply {
  const match = /^(\d{3})[ -]?([\s\S]*)$/.exec(response.trim())
  if (!match) throw new Error(`not an SMTP reply: ${response}`)
  return { code: Number(match[1]), text: (match[2] ?? '').trim() }
}

/** Sends one message over a connection of its own. */
export async function sendMail(port: number, mail: Mail): Promise<SendResult> {
  const session = await SmtpSession.open(port, mail.auth)
  try {
    return await session.send(mail)
  } finally {
    session.close()
  }
}

/** One connection that sends messages in turn, as a busy client does (the bench reuses them). */
export class SmtpSession {
  private constructor(private readonly connection: SMTPConnection) {}

  static async open(port: number, auth?: Mail['auth']): Promise<SmtpSession> {
    const connection = new SMTPConnection({
      host: '127.0.0.1',
      port,
      ignoreTLS: true,
      name: 'client.test',
      socketTimeout: 900_000,
    })
    await new Promise<void>((done, fail) => {
      connection.once('error', fail)
      connection.connect(() => done())
    })
    if (auth) {
      await new Promise<void>((done, fail) =>
        connection.login({ user: auth.user, pass: auth.pass }, (err) => (err ? fail(err) : done())),
      )
    }
    return new SmtpSession(connection)
  }

  send(mail: Mail): Promise<SendResult> {
    return new Promise<SendResult>((done, fail) => {
      const dsn = mail.dsn && {
        ...mail.dsn,
        notify: typeof mail.dsn.notify === 'string' ? mail.dsn.notify : mail.dsn.notify && [...mail.dsn.notify],
      }
      this.connection.send(
        { from: mail.from, to: [...mail.to], ...(dsn ? { dsn } : {}) },
        mail.message,
        (err, info) => {
          // A failed final dot comes as an error without the refused recipients; nodemailer still
          // holds them on the envelope it keeps for the transaction.
          const envelope = (this.connection as unknown as { _envelope?: { rejectedErrors?: NodemailerError[] } })
            ._envelope
          const rejectedErrors = (err ? (err.rejectedErrors ?? envelope?.rejectedErrors) : info?.rejectedErrors) ?? []
          const refused = new Map(rejectedErrors.map((e) => [e.recipient ?? '', parseReply(e.response ?? '')]))
          if (err?.code === 'EENVELOPE' && refused.size > 0 && err.command !== 'DATA') {
            done({ reply: undefined, refused })
          } else if (err) {
            if (err.response === undefined) fail(err)
            else done({ reply: parseReply(err.response), refused })
          } else if (info) {
            done({ reply: parseReply(info.response), refused })
          } else fail(new Error('no result from send()'))
        },
      )
    })
  }

  close(): void {
    this.connection.quit()
  }
}
