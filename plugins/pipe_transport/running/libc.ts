// glibc's posix_spawn and the few calls around it, through koffi (an FFI whose prebuilt binaries
// come in its npm platform packages, so no compiler is needed). Loaded once; where koffi, glibc or
// one of the calls is missing (musl, another system, glibc < 2.34), `libc` is undefined and says
// why, and programs start through child_process instead (run-program.ts).
import type * as Koffi from 'koffi'
import { getSystemErrorMap } from 'node:util'
import { messageOf } from '../util/error-message.js'
import { failure, ok, type Result } from '../util/result.js'

/** The calls this plugin makes, typed as it makes them. */
export interface Libc {
  /**
   * posix_spawn on one of koffi's worker threads: its vfork suspends only that thread until the
   * child has exec'd, never Haraka's event loop.
   */
  posixSpawn(
    pid: [number],
    path: string,
    fileActions: Buffer,
    attributes: Buffer,
    argv: (string | null)[],
    envp: (string | null)[],
  ): Promise<number>
  fileActionsInit(fileActions: Buffer): number
  fileActionsDestroy(fileActions: Buffer): number
  addDup2(fileActions: Buffer, fd: number, newFd: number): number
  addOpen(fileActions: Buffer, fd: number, path: string, flags: number, mode: number): number
  addChdir(fileActions: Buffer, path: string): number
  addClosefrom(fileActions: Buffer, from: number): number
  attributesInit(attributes: Buffer): number
  setFlags(attributes: Buffer, flags: number): number
  setSigmask(attributes: Buffer, set: Buffer): number
  setSigdefault(attributes: Buffer, set: Buffer): number
  pipe2(fds: [number, number], flags: number): number
  /** fcntl(fd, F_SETFL, flags): the file status flags, such as O_NONBLOCK. */
  setStatusFlags(fd: number, flags: number): number
  /** fcntl(fd, F_GETFD): the descriptor flags (FD_CLOEXEC), or -1. */
  descriptorFlags(fd: number): number
  /** fcntl(fd, F_SETFD, flags). */
  setDescriptorFlags(fd: number, flags: number): number
  close(fd: number): number
  waitpid(pid: number, status: [number], options: number): number
  /** kill(2): 0, or -1 (ESRCH: no such process or group). */
  kill(pid: number, signal: number): number
  /** prctl(PR_SET_PDEATHSIG): the signal this process gets when its parent dies. */
  setParentDeathSignal(signal: number): number
  /** errno of the last failed call (posix_spawn returns its error instead). */
  errno(): number
}

/** <spawn.h> flags (glibc). */
export const POSIX_SPAWN_SETSIGDEF = 0x04
export const POSIX_SPAWN_SETSIGMASK = 0x08
export const POSIX_SPAWN_SETSID = 0x80
/**
 * glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 on 64-bit Linux;
 * sigset_t is 128. The buffers are larger than needed, never smaller.
 */
export const FILE_ACTIONS_BYTES = 256
export const ATTRIBUTES_BYTES = 512
export const SIGSET_BYTES = 128
/** <fcntl.h>, Linux. */
export const O_CLOEXEC = 0o2000000
export const O_NONBLOCK = 0o4000
const F_GETFD = 1
const F_SETFD = 2
const F_SETFL = 4
export const FD_CLOEXEC = 1
/** <sys/wait.h> */
export const WNOHANG = 1
/** <linux/prctl.h> */
const PR_SET_PDEATHSIG = 1

function load(): Result<Libc> {
  let koffi: typeof Koffi
  try {
    koffi = requireKoffi()
  } catch (err) {
    return failure(`koffi cannot be loaded (${firstLine(err)})`)
  }
  let lib: Koffi.LibraryHandle
  try {
    lib = koffi.load('libc.so.6')
  } catch (err) {
    return failure(`glibc (libc.so.6) cannot be loaded (${firstLine(err)})`)
  }
  try {
    const fcntl = lib.func('int fcntl(int fd, int cmd, ...)')
    const prctl = lib.func('int prctl(int option, ...)')
    const posixSpawn = lib.func(
      'int posix_spawn(_Out_ int *pid, const char *path, void *file_actions, void *attrp, const char **argv, const char **envp)',
    )
    const inTurn = turns(asyncCallsAtOnce(koffi.config()))
    return ok({
      posixSpawn: (...args) =>
        inTurn(
          () =>
            new Promise((resolve, reject) => {
              posixSpawn.async(...args, (err: unknown, result: number) => {
                if (err) reject(err instanceof Error ? err : new Error(messageOf(err)))
                else resolve(result)
              })
            }),
        ),
      fileActionsInit: lib.func('int posix_spawn_file_actions_init(void *file_actions)'),
      fileActionsDestroy: lib.func('int posix_spawn_file_actions_destroy(void *file_actions)'),
      addDup2: lib.func('int posix_spawn_file_actions_adddup2(void *file_actions, int fd, int newfd)'),
      addOpen: lib.func(
        'int posix_spawn_file_actions_addopen(void *file_actions, int fd, const char *path, int oflag, uint32_t mode)',
      ),
      // glibc >= 2.29 and >= 2.34: where they are missing, lookup throws and the fallback is used.
      addChdir: lib.func('int posix_spawn_file_actions_addchdir_np(void *file_actions, const char *path)'),
      addClosefrom: lib.func('int posix_spawn_file_actions_addclosefrom_np(void *file_actions, int from)'),
      attributesInit: lib.func('int posix_spawnattr_init(void *attrp)'),
      setFlags: lib.func('int posix_spawnattr_setflags(void *attrp, short flags)'),
      setSigmask: lib.func('int posix_spawnattr_setsigmask(void *attrp, void *sigmask)'),
      setSigdefault: lib.func('int posix_spawnattr_setsigdefault(void *attrp, void *sigdefault)'),
      pipe2: lib.func('int pipe2(_Out_ int *pipefd, int flags)'),
      setStatusFlags: (fd, flags) => fcntl(fd, F_SETFL, 'int', flags) as number,
      descriptorFlags: (fd) => fcntl(fd, F_GETFD) as number,
      setDescriptorFlags: (fd, flags) => fcntl(fd, F_SETFD, 'int', flags) as number,
      close: lib.func('int close(int fd)'),
      waitpid: lib.func('int waitpid(int pid, _Out_ int *wstatus, int options)'),
      kill: lib.func('int kill(int pid, int sig)'),
      setParentDeathSignal: (signal) => prctl(PR_SET_PDEATHSIG, 'unsigned long', signal) as number,
      errno: () => koffi.errno(),
    })
  } catch (err) {
    return failure(`this C library lacks a call pipe_transport needs (${firstLine(err)}); glibc >= 2.34 has them all`)
  }
}

/**
 * How many posix_spawn calls are handed to koffi at once. koffi refuses an async call while
 * max_async_calls (256) are queued for its worker threads, and gives each call beyond
 * resident_async_pools (8) stacks allocated for it alone; its threads, one or two per core, run
 * only a few at a time anyway. So a fan-out of 1,000 runs waits here, in arrival order, rather
 * than failing to start: each wait is a fraction of a millisecond per spawn ahead of it.
 */
function asyncCallsAtOnce(config: ReturnType<typeof Koffi.config>): number {
  return Math.max(1, Math.min(config.resident_async_pools ?? 8, (config.max_async_calls ?? 256) - 1))
}

/** Runs `call`s at most `limit` at once, the others in arrival order as turns come free. */
function turns(limit: number): <T>(call: () => Promise<T>) => Promise<T> {
  let active = 0
  const waiting: (() => void)[] = []
  return async (call) => {
    if (active < limit) active++
    else await new Promise<void>((takeTurn) => waiting.push(takeTurn))
    try {
      return await call()
    } finally {
      // The turn passes straight to the next caller, or is given back.
      const next = waiting.shift()
      if (next) next()
      else active--
    }
  }
}

/**
 * koffi from wherever Node finds it for this plugin (an install dir's node_modules, or the
 * package's own), else next to Haraka, which is where an install dir's dependencies live when the
 * plugin files were copied in beside them.
 */
function requireKoffi(): typeof Koffi {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional: a system without it falls back to child_process
    return require('koffi') as typeof Koffi
  } catch (err) {
    const harakaRequire = require.main?.require.bind(require.main)
    if (!harakaRequire) throw err
    return harakaRequire('koffi') as typeof Koffi
  }
}

function firstLine(err: unknown): string {
  return messageOf(err).split('\n')[0] ?? ''
}

const loaded = load()

/** glibc's calls, or undefined where they cannot be had. */
export const libc: Libc | undefined = loaded.ok ? loaded.value : undefined
/** Why `libc` is undefined; empty when it is there. */
export const libcMissing: string = loaded.ok ? '' : loaded.error

/** An errno as its name and words: `EMFILE: too many open files`. */
export function describeErrno(errno: number): string {
  const [name, message] = getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'unknown error']
  return `${name}: ${message}`
}
