// A script's `#!` line: the kernel runs its interpreter, and a missing interpreter makes the start
// fail with ENOENT, as if the script itself were missing. Read where that must be told apart: the
// config check at load (settings/) and a failed start (running/).
import { closeSync, openSync, readSync } from 'node:fs'

export interface Shebang {
  /** The whole first line, `#!/usr/bin/env perl -w`. */
  readonly line: string
  readonly interpreter: string
  /** Its first argument (`perl` after /usr/bin/env), if any. */
  readonly argument: string | undefined
}

/** The `#!` line of a file, as far as the kernel reads one (256 bytes); undefined for none, or a file it cannot read. */
export function shebangOf(path: string): Shebang | undefined {
  const buffer = Buffer.alloc(256)
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const read = readSync(fd, buffer, 0, buffer.length, 0)
    const line = buffer.toString('latin1', 0, read).split('\n')[0] ?? ''
    if (!line.startsWith('#!')) return undefined
    const [interpreter = '', argument] = line.slice(2).trim().split(/\s+/)
    return { line, interpreter, argument }
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
