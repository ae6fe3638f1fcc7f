// output_file and error_file of a program that runs as another user (`user`): Haraka, as root,
// opens them, so they must lie where that user cannot swap them, or a directory on their way,
// for a link to a file only root may write. The open itself never follows a link in the file's
// own name and takes only a regular file with one link (running/output-files.ts); this refuses at
// load what would leave the rest of the path in the user's hands: a directory on the way that the
// user may write. A sticky directory (/tmp) is the exception the user cannot abuse, as long as
// what the path names in it exists already and (but for the file itself) is not the user's.
import { lstatSync, realpathSync, type Stats } from 'node:fs'
import { basename, dirname, join, parse, sep } from 'node:path'

/** Who the program runs as: child_process drops every supplementary group for it. */
export interface ProgramIdentity {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

const STICKY = 0o1000

/** Why `path` is unsafe for a program running as `who`; undefined when it is safe. */
export function outputPathProblem(path: string, who: ProgramIdentity): string | undefined {
  if (path === '/dev/null') return undefined
  // The path as written and as it resolves: a link on the way is only as safe as both.
  const real = join(resolved(dirname(path)), basename(path))
  return chainProblem(path, who) ?? (real === path ? undefined : chainProblem(real, who))
}

function chainProblem(path: string, who: ProgramIdentity): string | undefined {
  for (const directory of ancestors(dirname(path))) {
    const stats = lstatOf(directory)
    if (stats === undefined || stats.isSymbolicLink() || !writableBy(stats, who)) continue
    const next = nextComponent(path, directory)
    if ((stats.mode & STICKY) === 0) {
      return `directory ${directory} can be written by user ${who.name}, who could put a link to any file root may write in place of ${next}; make it writable by root only`
    }
    const entry = lstatOf(next)
    if (entry === undefined) {
      return `${next} does not exist yet, and user ${who.name} may create it in the sticky directory ${directory} (as a link to a file root may write); create it first`
    }
    if (next !== path && entry.uid === who.uid) {
      return `directory ${next} belongs to user ${who.name}, who may replace what is in it with links to files root may write; make it root's`
    }
  }
  return undefined
}

/** `/a/b/c` -> `/`, `/a`, `/a/b`, `/a/b/c`. */
export function ancestors(directory: string): string[] {
  const { root } = parse(directory)
  const names = directory
    .slice(root.length)
    .split(sep)
    .filter((name) => name !== '')
  return [root, ...names.map((_, index) => join(root, ...names.slice(0, index + 1)))]
}

/** The entry inside `directory`, one of path's ancestors, that `path` goes through. */
function nextComponent(path: string, directory: string): string {
  let next = path
  while (dirname(next) !== directory) next = dirname(next)
  return next
}

function resolved(directory: string): string {
  try {
    return realpathSync(directory)
  } catch {
    return directory
  }
}

function lstatOf(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch {
    return undefined
  }
}

/** The permission bits that apply to this user (its owner, group or other class); ACLs aside. */
function writableBy(stats: Stats, who: ProgramIdentity): boolean {
  if (stats.uid === who.uid) return (stats.mode & 0o200) !== 0
  if (stats.gid === who.gid) return (stats.mode & 0o020) !== 0
  return (stats.mode & 0o002) !== 0
}
