// Where a run reads its message from. Haraka's message stream can feed one reader at a time, so a
// transaction of one run reads a large message straight from Haraka; one of several runs, which
// read at once and each at its own pace, reads a copy taken once for all of them: in memory when
// small, in one private file when large, so that a 20 MB message is held once, never once per
// run. A small message of one run is copied into memory too: from there it goes into the
// program's pipe in one write (posix-spawn.ts).
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
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
  const copies = new Map<LineEnding, Buffer | string>()
  try {
    for (const lineEnding of lineEndings) {
      if (bytes <= MEMORY_COPY_MAX_BYTES) {
        const chunks: Buffer[] = []
        await readMessage(stream, { line_endings: lineEnding }, (chunk) => chunks.push(chunk))
        copies.set(lineEnding, Buffer.concat(chunks))
      } else {
        const file = join(spoolDirectory(), `${randomUUID()}.eml`)
        copies.set(lineEnding, file)
        const sink = createWriteStream(file, { mode: 0o600 })
        stream.pipe(sink, { line_endings: lineEnding })
        await once(sink, 'finish')
      }
    }
  } catch (err) {
    await removeFiles(copies)
    throw err
  }
  return {
    source: {
      take(lineEnding) {
        const copy = copies.get(lineEnding)
        if (copy === undefined)
          throw new Error(`no copy of the message with ${JSON.stringify(lineEnding)} line endings`)
        if (typeof copy !== 'string') return copy
        // A program that exits without reading all of it ends the copy's reading too.
        return (dest) => pipeline(createReadStream(copy), dest, () => undefined)
      },
    },
    dispose: () => removeFiles(copies),
  }
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

async function removeFiles(copies: ReadonlyMap<LineEnding, Buffer | string>): Promise<void> {
  for (const copy of copies.values()) if (typeof copy === 'string') await unlink(copy).catch(() => undefined)
}

let directory: string | undefined

/** A private (0700) directory for this process's copies, removed when the process exits. */
function spoolDirectory(): string {
  directory ??= mkdtempSync(join(tmpdir(), 'haraka-pipe-transport-spool-'))
  return directory
}

process.on('exit', () => {
  if (directory) rmSync(directory, { recursive: true, force: true })
})
