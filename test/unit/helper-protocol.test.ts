import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { FrameParser, FrameWriter, ReplyReader, encodeFrame, encodeSpec, type HelperReply } from '../../plugins/pipe_transport/running/helper-protocol.js'
import type { ProgramSpec } from '../../plugins/pipe_transport/running/run-program.js'

const SPEC: ProgramSpec = {
  program: '/bin/cat',
  argv: ['-', 'a\nb', '\u0000'],
  env: { A: '1' },
  directory: '/',
  outputFile: '/dev/null',
  errorFile: '/dev/null',
  timeoutSeconds: 5,
  captureStderrLine: false,
}

interface Delivery {
  spec: ProgramSpec
  message: Buffer
  complete: boolean
}

/** Feeds bytes into a FrameParser in the given slices; returns the deliveries, whether it was left mid-message, and the error. */
function parse(bytes: Buffer, sliceSize: number): { deliveries: Delivery[]; inMessage: boolean; error?: Error } {
  const deliveries: Delivery[] = []
  const parts: Buffer[] = []
  const parser = new FrameParser({
    spec: (spec) => deliveries.push({ spec, message: Buffer.alloc(0), complete: false }),
    data: (bytes) => parts.push(bytes),
    end: () => {
      const last = deliveries.at(-1)
      if (!last) throw new Error('end without a spec')
      last.message = Buffer.concat(parts.splice(0))
      last.complete = true
    },
  })
  try {
    for (let offset = 0; offset < bytes.length; offset += sliceSize) parser.push(bytes.subarray(offset, offset + sliceSize))
  } catch (err) {
    return { deliveries, inMessage: parser.inMessage, error: err as Error }
  }
  const last = deliveries.at(-1)
  if (last && !last.complete) last.message = Buffer.concat(parts)
  return { deliveries, inMessage: parser.inMessage }
}

describe('helper protocol', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-transport-protocol-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  const message = Buffer.from('Subject: x\n\nline one\nline two\n')
  const wire = Buffer.concat([encodeSpec(SPEC), encodeFrame(message.subarray(0, 7)), encodeFrame(message.subarray(7)), encodeFrame(Buffer.alloc(0))])

  it('reads the spec and the message however the bytes are split', () => {
    for (const slice of [1, 3, 4, 5, 17, wire.length]) {
      const { deliveries, inMessage, error } = parse(wire, slice)
      assert.equal(error, undefined)
      assert.equal(inMessage, false)
      assert.deepEqual(deliveries, [{ spec: SPEC, message, complete: true }], `slices of ${slice}`)
    }
  })

  it('reads one delivery after another on the same connection', () => {
    const other = { ...SPEC, argv: ['second'] }
    const second = Buffer.from('Subject: y\n\nsecond\n')
    const both = Buffer.concat([wire, encodeSpec(other), encodeFrame(second), encodeFrame(Buffer.alloc(0))])
    for (const slice of [1, 7, wire.length + 3, both.length]) {
      assert.deepEqual(
        parse(both, slice).deliveries,
        [
          { spec: SPEC, message, complete: true },
          { spec: other, message: second, complete: true },
        ],
        `slices of ${slice}`,
      )
    }
  })

  it('knows a message cut off before its empty frame from a whole one', () => {
    const cut = parse(wire.subarray(0, wire.length - 4), 5)
    assert.equal(cut.inMessage, true)
    assert.deepEqual(cut.deliveries, [{ spec: SPEC, message, complete: false }])
    assert.equal(parse(wire.subarray(0, 10), 3).inMessage, false, 'still reading the spec: no program runs yet')
    assert.equal(parse(wire.subarray(0, encodeSpec(SPEC).length + 2), 3).inMessage, true)
  })

  it('refuses an empty or oversized spec frame', () => {
    assert.match(parse(Buffer.concat([wire, encodeFrame(Buffer.alloc(0))]), 64).error?.message ?? '', /empty spec/)
    const huge = Buffer.alloc(4)
    huge.writeUInt32BE(2 ** 31)
    assert.match(parse(huge, 4).error?.message ?? '', /spec frame of/)
  })

  it('FrameWriter sends the spec, a typical message and the empty frame in one write, and keeps the connection', async () => {
    const path = join(dir, 'writer.sock')
    const server = createServer({ allowHalfOpen: true })
    server.listen(path)
    await once(server, 'listening')
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const client = connect(path)
    await once(client, 'connect')
    const [serverSide] = await accepted
    const reads: Buffer[] = []
    const messageRead = new Promise<void>((resolve) => {
      serverSide.on('data', (chunk: Buffer) => {
        reads.push(chunk)
        if (parse(Buffer.concat(reads), 1000).deliveries[0]?.complete) resolve()
      })
    })

    const writer = new FrameWriter(client, SPEC)
    const lines = Array.from({ length: 200 }, (_, i) => Buffer.from(`line ${i}\n`))
    for (const line of lines) writer.write(line)
    await sleep(5) // a later tick: still gathered
    writer.write(Buffer.alloc(0))
    writer.write(Buffer.from('last\n'))
    writer.end()
    await messageRead
    assert.equal(client.writableEnded, false, 'the connection stays open for the next delivery')
    const bytes = Buffer.concat(reads)
    // Frames: a length, that many bytes; count them on the wire.
    const frames: number[] = []
    for (let offset = 0; offset < bytes.length; ) {
      const length = bytes.readUInt32BE(offset)
      frames.push(length)
      offset += 4 + length
    }
    const message = Buffer.concat([...lines, Buffer.from('last\n')])
    assert.deepEqual(frames, [encodeSpec(SPEC).length - 4, message.length, 0], 'spec, one frame of message, empty frame')
    assert.equal(reads.length, 1, 'one write, read at once')
    assert.deepEqual(parse(bytes, 1000).deliveries, [{ spec: SPEC, message, complete: true }])

    // A message larger than a frame goes out in frames while it is written, not all at the end.
    const big = Buffer.alloc(200 * 1024, 'b')
    const before = reads.length
    writer.destroy()
    const second = new FrameWriter(client, SPEC)
    second.write(big)
    await sleep(20)
    assert.ok(reads.length > before, 'the first frames left before the end')
    client.destroy()
    serverSide.destroy()
    server.close()
  })

  it('ReplyReader splits replies at line ends, across chunks', () => {
    const replies: HelperReply[] = []
    const reader = new ReplyReader((reply) => replies.push(reply))
    const text = '{"started":42}\n{"result":{"outcome":{"kind":"exited","status":0},"bytesWritten":7}}\n'
    for (const piece of [text.slice(0, 5), text.slice(5, 20), text.slice(20)]) reader.push(Buffer.from(piece))
    assert.deepEqual(replies, [{ started: 42 }, { result: { outcome: { kind: 'exited', status: 0 }, bytesWritten: 7 } }])
  })
})
