import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { describe, it } from 'node:test'
import {
  FromEscaper,
  alreadyDeliveredTo,
  asctime,
  prefaceFor,
} from '../../plugins/pipe_transport/invocation/message-shape.js'
import type { MessageShape } from '../../plugins/pipe_transport/settings/vocabulary.js'
import { envelopeFor, envelopeFromMailFrom, recipient } from './recipients.js'

const envelope = envelopeFor([recipient('a@y.test', { original: 'info@y.test' })])
const plain: MessageShape = {
  lineEnding: '\n',
  returnPath: false,
  deliveredTo: false,
  xOriginalTo: false,
  fromLine: false,
}

async function escape(chunks: string[]): Promise<string> {
  const out = await buffer(Readable.from(chunks.map((chunk) => Buffer.from(chunk, 'latin1'))).pipe(new FromEscaper()))
  return out.toString('latin1')
}

describe('message shaping', () => {
  it('writes the preface lines in From_, Return-Path, X-Original-To, Delivered-To order with the chosen line ending', () => {
    const now = new Date(Date.UTC(2026, 10, 5, 9, 4, 1))
    assert.equal(prefaceFor(plain, envelope, now), '')
    assert.equal(
      prefaceFor(
        { lineEnding: '\r\n', returnPath: true, deliveredTo: true, xOriginalTo: true, fromLine: true },
        envelope,
        now,
      ),
      'From s@x.test Thu Nov  5 09:04:01 2026\r\nReturn-Path: <s@x.test>\r\nX-Original-To: info@y.test\r\nDelivered-To: a@y.test\r\n',
    )
    assert.equal(
      prefaceFor(
        { ...plain, returnPath: true, fromLine: true },
        { ...envelope, sender: '', senderHeaderAddress: '' },
        now,
      ),
      'From MAILER-DAEMON Thu Nov  5 09:04:01 2026\nReturn-Path: <>\n',
    )
  })

  it("quotes local parts in headers where RFC 5322 needs it, the sender's as envelopeOf() takes it from Haraka", () => {
    const quoted = envelopeFromMailFrom('"x y"@s.test', [
      recipient('"john smith"@y.test', { original: '"a\\"b"@y.test' }),
    ])
    assert.equal(quoted.sender, 'x y@s.test', 'macros get the local part unquoted')
    assert.equal(
      prefaceFor(
        { ...plain, returnPath: true, deliveredTo: true, xOriginalTo: true, fromLine: true },
        quoted,
        new Date(Date.UTC(2026, 10, 5, 9, 4, 1)),
      ),
      'From "x y"@s.test Thu Nov  5 09:04:01 2026\nReturn-Path: <"x y"@s.test>\nX-Original-To: "a\\"b"@y.test\nDelivered-To: "john smith"@y.test\n',
    )
    const plainSender = envelopeFromMailFrom('a.b+c@s.test', [recipient('a@y.test')])
    assert.equal(prefaceFor({ ...plain, returnPath: true }, plainSender, new Date()), 'Return-Path: <a.b+c@s.test>\n')
    const nullSender = envelopeFromMailFrom('', [recipient('a@y.test')])
    assert.deepEqual(
      [nullSender.sender, prefaceFor({ ...plain, returnPath: true }, nullSender, new Date())],
      ['', 'Return-Path: <>\n'],
    )
  })

  it('finds the recipient among Delivered-To headers, ignoring case and white space (the loop check)', () => {
    const alice = recipient('Alice@Y.test')
    assert.equal(alreadyDeliveredTo([' alice@y.TEST\n'], alice), true)
    assert.equal(alreadyDeliveredTo(['bob@y.test', 'alice@z.test'], alice), false)
    assert.equal(alreadyDeliveredTo(['"john smith"@y.test'], recipient('"John Smith"@y.test')), true)
  })

  it('writes a UTF-8 local part unquoted (RFC 6532), as Postfix does', () => {
    const envelope = envelopeFromMailFrom('jörg@s.test', [recipient('müller@bücher.example')])
    assert.equal(
      prefaceFor({ ...plain, returnPath: true, deliveredTo: true }, envelope, new Date()),
      'Return-Path: <jörg@s.test>\nDelivered-To: müller@bücher.example\n',
    )
  })

  it('finds the recipient in the unquoted UTF-8 form Postfix writes, the quoted form, and either form of its domain', () => {
    const mueller = recipient('müller@bücher.example')
    for (const header of [
      'müller@bücher.example',
      '"müller"@bücher.example',
      'Müller@xn--bcher-kva.example',
      '<müller@BÜCHER.example>',
    ])
      assert.equal(alreadyDeliveredTo([header], mueller), true, header)
    assert.equal(alreadyDeliveredTo(['mueller@bücher.example', 'müller@xn--bcher.example'], mueller), false)
    assert.equal(alreadyDeliveredTo(['müller@example.com'], recipient('"müller"@example.com')), true)
  })

  it('formats dates as asctime() does', () => {
    assert.equal(asctime(new Date(Date.UTC(2026, 0, 25, 23, 59, 59))), 'Sun Jan 25 23:59:59 2026')
  })

  it('escapes lines that start with "From " and nothing else', async () => {
    assert.equal(
      await escape(['From a\nFrom b\nfrom c\n From d\nFromage\n>From e\n']),
      '>From a\n>From b\nfrom c\n From d\nFromage\n>From e\n',
    )
  })

  it('escapes the same whatever the chunk boundaries', async () => {
    const input = 'x\nFrom one\r\nFro\nFrom\nFrom two\nFrom '
    const expected = 'x\n>From one\r\nFro\nFrom\n>From two\n>From '
    for (let size = 1; size <= input.length; size++) {
      const chunks: string[] = []
      for (let i = 0; i < input.length; i += size) chunks.push(input.slice(i, i + size))
      assert.equal(await escape(chunks), expected, `chunks of ${size}`)
    }
  })

  it('passes every byte value through unchanged', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1')
    assert.equal(await escape([all, all]), all + all)
  })
})
