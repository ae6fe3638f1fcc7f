import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { describe, it } from 'node:test'
import { FirstLine } from '../../plugins/pipe_transport/running/first-line.js'

async function through(chunks: string[]): Promise<{ line: string | undefined; out: string }> {
  const firstLine = new FirstLine()
  const out = await buffer(Readable.from(chunks.map((chunk) => Buffer.from(chunk, 'latin1'))).pipe(firstLine))
  return { line: firstLine.line, out: out.toString('latin1') }
}

describe('first-line', () => {
  it('passes everything through and keeps the first line, across chunks, without CR', async () => {
    assert.deepEqual(await through(['5.1.', '1 no such', ' user\r\nsecond\n']), {
      line: '5.1.1 no such user',
      out: '5.1.1 no such user\r\nsecond\n',
    })
  })

  it('has no line when nothing was written', async () => {
    assert.deepEqual(await through([]), { line: undefined, out: '' })
  })

  it('keeps a bounded prefix of an endless first line', async () => {
    const { line, out } = await through(Array.from({ length: 100 }, () => 'x'.repeat(1000)))
    assert.equal(line?.length, 512)
    assert.equal(out.length, 100_000)
  })

  it('takes an empty first line as empty', async () => {
    assert.deepEqual(await through(['\n5.1.1 late\n']), { line: '', out: '\n5.1.1 late\n' })
  })
})
