// What one program reads on stdin: the transaction's message, shaped by the instance's options
// (line endings, envelope headers, an mbox From_ line). The shaping happens on the way into this
// program only; the transaction, and every other plugin's view of it, is left as it is.
import { Transform, type TransformCallback } from 'node:stream'
import { comparableAddress } from '../routing/address-parts.js'
import type { Recipient } from '../routing/recipient.js'
import type { MessageShape } from '../settings/vocabulary.js'
import type { Envelope } from './envelope.js'
import type { MessageSource, ProgramInput } from './program-input.js'

export function shapedInput(message: MessageSource, shape: MessageShape, envelope: Envelope): ProgramInput {
  const preface = prefaceFor(shape, envelope, new Date())
  const body = message.take(shape.lineEnding)
  if (Buffer.isBuffer(body)) {
    const shaped = shape.fromLine ? escapeFromLines(body) : body
    return { bytes: preface === '' ? [shaped] : [Buffer.from(preface), shaped] }
  }
  return {
    feed: (stdin) => {
      if (preface !== '') stdin.write(preface)
      if (!shape.fromLine) return body(stdin)
      const escaper = new FromEscaper()
      escaper.pipe(stdin)
      body(escaper)
    },
  }
}

/**
 * The lines written before the message, in Postfix pipe(8)'s order: From_, Return-Path,
 * X-Original-To, Delivered-To. Addresses are written as headers write them (quoted local parts).
 */
export function prefaceFor(shape: MessageShape, envelope: Envelope, now: Date): string {
  const lines: string[] = []
  const [first] = envelope.recipients
  if (shape.fromLine)
    lines.push(
      `From ${envelope.senderHeaderAddress === '' ? 'MAILER-DAEMON' : envelope.senderHeaderAddress} ${asctime(now)}`,
    )
  if (shape.returnPath) lines.push(`Return-Path: <${envelope.senderHeaderAddress}>`)
  if (shape.xOriginalTo && first) lines.push(`X-Original-To: ${first.originalHeaderAddress}`)
  if (shape.deliveredTo && first) lines.push(`Delivered-To: ${first.headerAddress}`)
  return lines.map((line) => `${line}${shape.lineEnding}`).join('')
}

/**
 * The loop check of Postfix's flag D: a message that already names the recipient in a
 * Delivered-To: header has been here before, and delivering it again would go round for ever.
 * Compared ignoring case, quoting and the form of the domain, so that the header matches whoever
 * wrote it: `müller@example.com` as Postfix writes it, `"müller"@example.com` as this plugin once
 * did, A-labels or U-labels.
 */
export function alreadyDeliveredTo(deliveredToHeaders: readonly string[], recipient: Recipient): boolean {
  const address = comparableAddress(recipient.headerAddress)
  return deliveredToHeaders.some((value) => comparableAddress(value) === address)
}

/** The date in an mbox From_ line: C's asctime() layout, in UTC, e.g. `Wed Nov  5 09:04:01 2026`. */
export function asctime(date: Date): string {
  const [weekday, , , , time] = date.toUTCString().split(' ') // "Wed, 05 Nov 2026 09:04:01 GMT"
  const month = date.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })
  const day = String(date.getUTCDate()).padStart(2, ' ')
  return `${weekday?.slice(0, 3)} ${month} ${day} ${time} ${date.getUTCFullYear()}`
}

/**
 * mboxo escaping: a line that starts with "From " gets a ">" in front, so a mailbox reader does
 * not take it for the start of a new message. Works on a message in chunks of any size: a line
 * start split across chunks is held back until it can be decided (at most four bytes).
 */
export class FromLineEscaper {
  private atLineStart = true
  private held = ''

  escape(chunk: Buffer): Buffer {
    // latin1 maps every byte to one char and back, so the message's bytes pass unchanged.
    let data = this.held + chunk.toString('latin1')
    this.held = ''
    const tailStart = data.lastIndexOf('\n') + 1
    const tail = data.slice(tailStart)
    const tailAtLineStart = tailStart > 0 || this.atLineStart
    if (tailAtLineStart && tail.length < 5 && 'From '.startsWith(tail)) {
      this.held = tail
      data = data.slice(0, tailStart)
    }
    let escaped = data.replace(/\nFrom /g, '\n>From ')
    if (this.atLineStart && escaped.startsWith('From ')) escaped = `>${escaped}`
    if (this.held !== '' || data.endsWith('\n')) this.atLineStart = true
    else if (data !== '') this.atLineStart = false
    return Buffer.from(escaped, 'latin1')
  }

  /** Whatever is held is shorter than "From ", so it needs no escaping. */
  flush(): Buffer {
    return Buffer.from(this.held, 'latin1')
  }
}

/** A whole message in memory, escaped. */
export function escapeFromLines(message: Buffer): Buffer {
  const escaper = new FromLineEscaper()
  return Buffer.concat([escaper.escape(message), escaper.flush()])
}

/** The same for a message that streams. */
export class FromEscaper extends Transform {
  private readonly escaper = new FromLineEscaper()

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    done(null, this.escaper.escape(chunk))
  }

  override _flush(done: TransformCallback): void {
    done(null, this.escaper.flush())
  }
}
