import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FirstLine, LastLine, type OutputLine } from '../../plugins/pipe_transport/running/output-lines.js'

function kept(line: OutputLine, chunks: readonly string[]): string | undefined {
  for (const chunk of chunks) line.take(Buffer.from(chunk, 'latin1'))
  return line.line
}

describe('the first stderr line', () => {
  it('is kept across chunks, without its CR', () => {
    assert.equal(kept(new FirstLine(), ['5.1.', '1 no such', ' user\r\nsecond\n']), '5.1.1 no such user')
  })

  it('is undefined when nothing was written, empty when the first line was', () => {
    assert.equal(kept(new FirstLine(), []), undefined)
    assert.equal(kept(new FirstLine(), ['\n5.1.1 late\n']), '')
  })

  it('is a bounded prefix of an endless first line', () => {
    assert.equal(
      kept(
        new FirstLine(),
        Array.from({ length: 100 }, () => 'x'.repeat(1000)),
      )?.length,
      512,
    )
  })
})

describe('the last stdout line', () => {
  it('is the last line with more than white space, across chunks, without its CR', () => {
    assert.equal(kept(new LastLine(), ['one\ntw', 'o\r\n', '\n  \n']), 'two')
    assert.equal(kept(new LastLine(), ['one\n', 'two\nthree\n\nfour', ' and more']), 'four and more')
    assert.equal(kept(new LastLine(), ['a\nb\nc\n']), 'c')
    assert.equal(kept(new LastLine(), ['only, no newline']), 'only, no newline')
  })

  it('is undefined when nothing but white space was written', () => {
    assert.equal(kept(new LastLine(), []), undefined)
    assert.equal(kept(new LastLine(), ['\n \n\t\n']), undefined)
  })

  it('is a bounded prefix of a long line, however much comes after it', () => {
    const long = 'y'.repeat(5000)
    assert.equal(kept(new LastLine(), ['first\n', long, long, '\n'])?.length, 512)
    assert.equal(kept(new LastLine(), [`first\n${long}\n\n`])?.length, 512)
    assert.equal(kept(new LastLine(), [`${'z'.repeat(3000)}\nend\n`]), 'end')
  })
})
