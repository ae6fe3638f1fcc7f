// How output_file and error_file are opened, whichever way the program starts: for appending,
// created rw-r----- when missing, and never through a symbolic link. Haraka may be root while the
// program runs as another user (`user`); were a link followed, a program that replaced its own
// output file with a link to a file only root may write (/etc/cron.d/x, authorized_keys) would
// have root append its output there. Postfix's local(8) refuses such files the same way
// (safe_open: no symbolic link, a regular file with one link). Where Haraka opens the file itself,
// it also refuses anything but a regular file with one link (a hard link to another file is the
// same trick), and /dev/null.
import { closeSync, constants, fstatSync, openSync, statSync, type Stats } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { messageOf } from '../util/error-message.js'

/** As Haraka's own open() would create them. */
export const OUTPUT_MODE = 0o640

/**
 * Append, create, never follow a link; non-blocking, so that a FIFO put in the file's place fails
 * at once rather than hanging the open. The same flags for Haraka's open and posix_spawn's.
 * (Node adds O_CLOEXEC to every open of its own.)
 */
export const OUTPUT_FLAGS =
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK

export const DEV_NULL = '/dev/null'
const devNull = statSync(DEV_NULL)

/** Opens an output file for the program, or throws why not; undefined for /dev/null, which needs no file. */
export async function openOutputFile(path: string, key: string): Promise<FileHandle | undefined> {
  // The default needs no file: the child gets /dev/null from spawn ('ignore') without the four
  // thread-pool round trips of opening and closing it here (measured: about 3% of throughput).
  if (path === DEV_NULL) return undefined
  let file: FileHandle
  try {
    file = await open(path, OUTPUT_FLAGS, OUTPUT_MODE)
  } catch (err) {
    throw new Error(`cannot open ${key} ${path}: ${whyNotOpened(err)}`, { cause: err })
  }
  const refused = refusal(await file.stat())
  if (refused === undefined) return file
  await file.close()
  throw new Error(`cannot open ${key} ${path}: ${refused}`)
}

/** Why posix_spawn's child could not open it (the same flags), for the log; undefined if it can. */
export function outputFileProblem(path: string): string | undefined {
  try {
    const fd = openSync(path, OUTPUT_FLAGS, OUTPUT_MODE)
    try {
      return refusal(fstatSync(fd))
    } finally {
      closeSync(fd)
    }
  } catch (err) {
    return whyNotOpened(err)
  }
}

function refusal(stats: Stats): string | undefined {
  if (stats.isCharacterDevice() && stats.rdev === devNull.rdev) return undefined
  if (!stats.isFile()) return 'it is not a regular file'
  if (stats.nlink !== 1)
    return `it has ${stats.nlink} hard links: another name for the same file may be one only root should write`
  return undefined
}

function whyNotOpened(err: unknown): string {
  // O_NOFOLLOW fails with ELOOP on a link.
  if ((err as NodeJS.ErrnoException).code === 'ELOOP')
    return 'it is a symbolic link, which pipe_transport never follows: name the file itself'
  return messageOf(err)
}
