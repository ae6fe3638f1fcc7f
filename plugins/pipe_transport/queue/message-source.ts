// Where a run reads its message from. Haraka's message stream can feed one reader at a time, so a
// transaction of one run reads a large message straight from Haraka; one of several runs, which
// read at once and each at its own pace, reads a copy taken once for all of them: in memory when
// small, in one file when large, so that a 20 MB message is held once, never once per run. The
// file has no name from the moment it is open: a Haraka killed with SIGKILL leaves no copy behind. A small message of one run is copied into memory too: from there it goes into the
// program's pipe in one write (posix-spawn.ts).
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { close, createWriteStream, openSync, read, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable, pipeline } from 'node:stream'
import type { LineEnding, MessageSource } from '../invocation/program-input.js'
import type { HarakaMessageStream } from '../types/haraka-types.js'

/** Larger copies go to a file. Haraka itself holds messages this small in memory. */
export const MEMORY_COPY_MAX_BYTES = 1024 * 1024

/**
 * A transaction of one run copies its message into memory up to this size, Linux's default pipe
 * capacity: the pipe then takes the whole message before the program starts.
 */
export const ONE_RUN_COPY_MAX_BYTES = 64 * 1024

/** What a run reads of a file copy at a time. */
const READ_CHUNK_BYTES = 64 * 1024

/** Haraka's own stream: for the one run of a transaction (the caller unpipes it afterwards). */
export function harakaSource(stream: HarakaMessageStream): MessageSource {
  return { take: (lineEnding) => (dest) => stream.pipe(dest, { line_endings: lineEnding }) }
}

export interface CopiedMessage {
  readonly source: MessageSource
  /** Removes the copy once every run is done with it. */
  dispose(): Promise<void>
}

/** One copy per line ending the runs need (usually one), read from Haraka's stream in turn. */
export async function copyMessage(
  stream: HarakaMessageStream,
  lineEndings: ReadonlySet<LineEnding>,
  bytes: number,
): Promise<CopiedMessage> {
  const copies = new Map<LineEnding, Buffer | FileCopy>()
  try {
    for (const lineEnding of lineEndings) {
      if (bytes <= MEMORY_COPY_MAX_BYTES) {
        const chunks: Buffer[] = []
        await readMessage(stream, { line_endings: lineEnding }, (chunk) => chunks.push(chunk))
        copies.set(lineEnding, Buffer.concat(chunks))
      } else {
        const file = new FileCopy(unnamedFile())
        copies.set(lineEnding, file)
        const sink = createWriteStream('', { fd: file.fd, autoClose: false })
        stream.pipe(sink, { line_endings: lineEnding })
        await once(sink, 'finish')
      }
    }
  } catch (err) {
    await closeFiles(copies)
    throw err
  }
  return {
    source: {
      take(lineEnding) {
        const copy = copies.get(lineEnding)
        if (copy === undefined)
          throw new Error(`no copy of the message with ${JSON.stringify(lineEnding)} line endings`)
        if (Buffer.isBuffer(copy)) return copy
        // A program that exits without reading all of it ends the copy's reading too.
        return (dest) => pipeline(copy.reader(), dest, () => undefined)
      },
    },
    dispose: () => closeFiles(copies),
  }
}

/**
 * A copy in a file, read by every run through the one descriptor, each from the start at its own
 * position (pread). Not fs.createReadStream({ fd }): its destroy() closes the descriptor whatever
 * autoClose says, and a run whose program exits early would close it under the others.
 */
class FileCopy {
  /** Reads under way: the descriptor is closed only once they are done, or one could read a reused number. */
  private readonly reads = new Set<Promise<void>>()

  constructor(readonly fd: number) {}

  reader(): Readable {
    let position = 0
    const { fd, reads } = this
    return new Readable({
      highWaterMark: READ_CHUNK_BYTES,
      read(size) {
        const buffer = Buffer.allocUnsafe(Math.max(size, READ_CHUNK_BYTES))
        const done = new Promise<void>((settled) =>
          read(fd, buffer, 0, buffer.length, position, (err, bytes) => {
            reads.delete(done)
            settled()
            if (err) this.destroy(err)
            else if (bytes === 0) this.push(null)
            else {
              position += bytes
              this.push(buffer.subarray(0, bytes))
            }
          }),
        )
        reads.add(done)
      },
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.reads)
    await new Promise<void>((closed) => close(this.fd, () => closed()))
  }
}

/**
 * A new file for a copy, open for reading and writing, and already without a name: nothing of it
 * outlives the process, however it ends (a SIGKILL, a crash), and no other process can open it by
 * a path. Made in the temp dir with O_EXCL, mode 0600, and unlinked in the same tick.
 */
function unnamedFile(): number {
  const path = join(tmpdir(), `haraka-pipe-transport-${randomUUID()}.eml`)
  const fd = openSync(path, 'wx+', 0o600)
  unlinkSync(path)
  return fd
}

/** Reads Haraka's message stream once, handing each chunk to `take`; resolves when all is read. */
export async function readMessage(
  stream: HarakaMessageStream,
  options: Parameters<HarakaMessageStream['pipe']>[1],
  take: (chunk: Buffer) => void,
): Promise<void> {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, next) {
      take(chunk)
      next()
    },
  })
  stream.pipe(sink, options)
  await once(sink, 'finish')
}

async function closeFiles(copies: ReadonlyMap<LineEnding, Buffer | FileCopy>): Promise<void> {
  const files = [...copies.values()].filter((copy): copy is FileCopy => !Buffer.isBuffer(copy))
  await Promise.all(files.map((file) => file.close()))
}
