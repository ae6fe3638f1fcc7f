// child_process (fork, then exec) hands the new process every descriptor of Haraka's that lacks
// close-on-exec. Node marks its own, but a native module need not, nor whoever started Haraka:
// lmdb opens the journal's store without it, so a program running as another user (`user`) could
// write through an inherited descriptor what it may not write by the file's path. So before each
// child_process spawn every descriptor from 3 up is marked close-on-exec. posix_spawn needs none of
// this: it closes them all in the child (posix-spawn.ts).
import { readdirSync } from 'node:fs'
import { FD_CLOEXEC, libc } from './libc.js'

/**
 * Marks every open descriptor from 3 up close-on-exec; false where that cannot be done (no glibc
 * through koffi), and the caller's child inherits what lacks it.
 */
export function markCloseOnExec(): boolean {
  if (!libc) return false
  // Listing the directory opens one more descriptor, closed again by the time it is marked; its
  // fcntl fails (-1) and is skipped, like any other that closed meanwhile.
  for (const entry of readdirSync('/proc/self/fd')) {
    const fd = Number(entry)
    if (!(fd > 2)) continue
    const flags = libc.descriptorFlags(fd)
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) libc.setDescriptorFlags(fd, flags | FD_CLOEXEC)
  }
  return true
}
