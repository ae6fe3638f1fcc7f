// Shared pieces of the end-to-end tests: a scratch dir for programs and what they write, and
// messages with known bytes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeProgram } from './harness.js'

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'pipe-transport-work-'))

  path(name: string): string {
    return join(this.dir, name)
  }

  /** A plain file in the scratch dir; returns its path. */
  file(name: string, content: string): string {
    writeFileSync(this.path(name), content)
    return this.path(name)
  }

  /** A `#!/bin/sh` program in the scratch dir. */
  shell(name: string, body: string): string {
    return writeProgram(this.dir, name, `#!/bin/sh\n${body}\n`)
  }

  /** A Node program in the scratch dir (the shebang names this very node binary). */
  node(name: string, body: string): string {
    return writeProgram(this.dir, name, `#!${process.execPath}\n'use strict'\n${body}\n`)
  }

  /** Returns a file's bytes and empties it, so each test sees only its own delivery. */
  take(name: string): Buffer {
    const path = this.path(name)
    if (!existsSync(path)) return Buffer.alloc(0)
    const bytes = readFileSync(path)
    writeFileSync(path, '')
    return bytes
  }

  /** Like take(), as the file's non-empty lines. */
  takeLines(name: string): string[] {
    return this.take(name)
      .toString()
      .split('\n')
      .filter((line) => line !== '')
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** The message a client sends, with CRLF line ends as on the wire. */
export function crlf(lines: readonly string[]): string {
  return lines.map((line) => `${line}\r\n`).join('')
}

/**
 * What the program must receive for a message sent as `sent`: Haraka's Received header first, then
 * the message with LF line ends. Returns the part after the Received header for comparison.
 */
export function afterReceivedHeader(received: Buffer): Buffer {
  const text = received.toString('latin1')
  if (!text.startsWith('Received: from '))
    throw new Error(`program input does not start with Received: ${text.slice(0, 80)}`)
  // The header ends at the first line that does not start with white space (folded lines do).
  const end = /\n(?![ \t])/.exec(text)
  return end ? received.subarray(end.index + 1) : Buffer.alloc(0)
}
