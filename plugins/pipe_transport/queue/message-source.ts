// Where a run reads its message from. Haraka's message stream can feed one reader at a time, so a
// transaction of one run reads a large message straight from Haraka; one of several runs, which
// read at once and each at its own pace, reads a copy taken once for all of them: in memory when
// small, in one file when large, so that a 20 MB message is held once, never once per run. The
// file has no name from the moment it is open: a Haraka killed with SIGKILL leaves no copy behind. A small message of one run is copied into memory too: from there it goes into the
// program's pipe in one write (posix-spawn.ts).
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { close, createReadStream, createWriteStream, openSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable, pipeline } from 'node:stream'
import type { LineEnding, MessageSource } from '../invocation/program-input.js'
import type { HarakaMessageStream } from '../types/haraka-types.js'

/** Larger copies go to a file. Haraka itself holds messages this small in memory. */
export const MEMORY_COPY_MAX_BYTES = 1024 * 1024

/**
 * A transaction of one run copies its message into memory up to this size, Linux's default pipe
 * capacity: the pipe then takes the whole message before the program starts.
 */
export const ONE_RUN_COPY_MAX_BYTES = 64 * 1024

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
  const copies = new Map<LineEnding, Buffer | number>()
  const readers: Promise<void>[] = []
  try {
    for (const lineEnding of lineEndings) {
      if (bytes <= MEMORY_COPY_MAX_BYTES) {
        const chunks: Buffer[] = []
        await readMessage(stream, { line_endings: lineEnding }, (chunk) => chunks.push(chunk))
        copies.set(lineEnding, Buffer.concat(chunks))
      } else {
        const fd = unnamedFile()
        copies.set(lineEnding, fd)
        const sink = createWriteStream('', { fd, autoClose: false })
        stream.pipe(sink, { line_endings: lineEnding })
        await once(sink, 'finish')
      }
    }
  } catch (err) {
    closeFiles(copies)
    throw err
  }
  return {
    source: {
      take(lineEnding) {
        const copy = copies.get(lineEnding)
        if (copy === undefined)
          throw new Error(`no copy of the message with ${JSON.stringify(lineEnding)} line endings`)
        if (typeof copy !== 'number') return copy
        return (dest) => {
          // Each run reads at its own position (pread), all through the one descriptor.
          const reader = createReadStream('', { fd: copy, start: 0, autoClose: false })
          // Done with the descriptor: read to its end, or destroyed with no read left under way.
          readers.push(new Promise<void>((done) => reader.once('end', () => done()).once('close', () => done())))
          // A program that exits without reading all of it ends the copy's reading too.
          pipeline(reader, dest, () => undefined)
        }
      },
    },
    async dispose() {
      // A reader that is destroyed may still have a read under way: the descriptor is closed
      // only once every reader has closed, or a read could meet a descriptor reused meanwhile.
      await Promise.all(readers)
      closeFiles(copies)
    },
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

function closeFiles(copies: ReadonlyMap<LineEnding, Buffer | number>): void {
  for (const copy of copies.values()) if (typeof copy === 'number') close(copy, () => undefined)
}
