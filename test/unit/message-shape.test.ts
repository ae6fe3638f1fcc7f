import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { describe, it } from 'node:test'
import type { Envelope } from '../../plugins/pipe_transport/invocation/envelope.js'
import { FromEscaper, asctime, prefaceFor } from '../../plugins/pipe_transport/invocation/message-shape.js'
import type { MessageShape } from '../../plugins/pipe_transport/settings/settings.js'

const envelope: Envelope = {
  sender: 's@x.test',
  recipients: [{ address: 'a@y.test', user: 'a', domain: 'y.test' }],
  queueId: 'Q',
  clientAddress: '127.0.0.1',
  clientHelo: 'h',
}
const plain: MessageShape = { lineEnding: '\n', returnPath: false, deliveredTo: false, fromLine: false }

async function escape(chunks: string[]): Promise<string> {
  const out = await buffer(Readable.from(chunks.map((chunk) => Buffer.from(chunk, 'latin1'))).pipe(new FromEscaper()))
  return out.toString('latin1')
}

describe('message shaping', () => {
  it('writes the preface lines in From_, Return-Path, Delivered-To order with the chosen line ending', () => {
    const now = new Date(Date.UTC(2026, 10, 5, 9, 4, 1))
    assert.equal(prefaceFor(plain, envelope, now), '')
    assert.equal(
      prefaceFor({ lineEnding: '\r\n', returnPath: true, deliveredTo: true, fromLine: true }, envelope, now),
      'From s@x.test Thu Nov  5 09:04:01 2026\r\nReturn-Path: <s@x.test>\r\nDelivered-To: a@y.test\r\n',
    )
    assert.equal(prefaceFor({ ...plain, returnPath: true, fromLine: true }, { ...envelope, sender: '' }, now), 'From MAILER-DAEMON Thu Nov  5 09:04:01 2026\nReturn-Path: <>\n')
  })

  it('formats dates as asctime() does', () => {
    assert.equal(asctime(new Date(Date.UTC(2026, 0, 25, 23, 59, 59))), 'Sun Jan 25 23:59:59 2026')
  })

  it('escapes lines that start with "From " and nothing else', async () => {
    assert.equal(await escape(['From a\nFrom b\nfrom c\n From d\nFromage\n>From e\n']), '>From a\n>From b\nfrom c\n From d\nFromage\n>From e\n')
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
