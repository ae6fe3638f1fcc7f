import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { FrameReader, FrameWriter, ReplyReader, encodeFrame, encodeSpec, type HelperReply } from '../../plugins/pipe_transport/helper-protocol.js'
import type { ProgramSpec } from '../../plugins/pipe_transport/run-program.js'

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

/** Feeds bytes into a FrameReader in the given slices; resolves with the spec, the message and the error. */
async function read(bytes: Buffer, sliceSize: number, end = true): Promise<{ spec?: ProgramSpec; message: Buffer; error?: Error }> {
  const reader = new FrameReader()
  const out: Buffer[] = []
  let spec: ProgramSpec | undefined
  let error: Error | undefined
  reader.on('spec', (value: ProgramSpec) => (spec = value))
  reader.on('data', (chunk: Buffer) => out.push(chunk))
  const done = new Promise<void>((resolve) => {
    reader.on('end', resolve)
    reader.on('error', (err) => {
      error = err
      resolve()
    })
  })
  for (let offset = 0; offset < bytes.length; offset += sliceSize) reader.write(bytes.subarray(offset, offset + sliceSize))
  if (end) reader.end()
  await done
  return { ...(spec ? { spec } : {}), message: Buffer.concat(out), ...(error ? { error } : {}) }
}

describe('helper protocol', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-transport-protocol-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  const message = Buffer.from('Subject: x\n\nline one\nline two\n')
  const wire = Buffer.concat([encodeSpec(SPEC), encodeFrame(message.subarray(0, 7)), encodeFrame(message.subarray(7)), encodeFrame(Buffer.alloc(0))])

  it('reads the spec and the message however the bytes are split', async () => {
    for (const slice of [1, 3, 4, 5, 17, wire.length]) {
      const { spec, message: got, error } = await read(wire, slice)
      assert.equal(error, undefined)
      assert.deepEqual(spec, SPEC)
      assert.deepEqual(got, message, `slices of ${slice}`)
    }
  })

  it('fails, rather than ending, when the connection ends before the empty frame', async () => {
    const { message: got, error } = await read(wire.subarray(0, wire.length - 4), 5)
    assert.match(error?.message ?? '', /ended before the message did/)
    assert.deepEqual(got, message)
    assert.match((await read(wire.subarray(0, 10), 3)).error?.message ?? '', /ended before/)
  })

  it('refuses bytes after the end of the message and an oversized spec', async () => {
    assert.match((await read(Buffer.concat([wire, Buffer.from('x')]), 64)).error?.message ?? '', /after the end/)
    const huge = Buffer.alloc(4)
    huge.writeUInt32BE(2 ** 31)
    assert.match((await read(huge, 4)).error?.message ?? '', /spec frame of/)
  })

  it('FrameWriter gathers one tick of writes into one frame, ends with the empty frame, and keeps every byte', async () => {
    const path = join(dir, 'writer.sock')
    const server = createServer({ allowHalfOpen: true })
    server.listen(path)
    await once(server, 'listening')
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const client = connect(path)
    await once(client, 'connect')
    const [serverSide] = await accepted
    const received: Buffer[] = []
    serverSide.on('data', (chunk: Buffer) => received.push(chunk))
    const ended = once(serverSide, 'end')

    const writer = new FrameWriter(client)
    const lines = Array.from({ length: 200 }, (_, i) => Buffer.from(`line ${i}\n`))
    for (const line of lines) writer.write(line)
    writer.write(Buffer.alloc(0))
    writer.end()
    await ended
    const bytes = Buffer.concat(received)
    // Frames: a length, that many bytes; count them on the wire.
    const frames: number[] = []
    for (let offset = 0; offset < bytes.length; ) {
      const length = bytes.readUInt32BE(offset)
      frames.push(length)
      offset += 4 + length
    }
    assert.equal(frames.at(-1), 0, 'the empty frame comes last')
    assert.ok(frames.length <= 3, `200 writes in one tick became ${frames.length - 1} frames`)
    const { message: got, error } = await read(Buffer.concat([encodeSpec(SPEC), bytes]), 1000)
    assert.equal(error, undefined)
    assert.deepEqual(got, Buffer.concat(lines))
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
