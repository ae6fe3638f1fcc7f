// Resolves `user` and `group` from /etc/passwd and /etc/group. Node has no getpwnam(); these files
// are what every local delivery setup has. Numeric ids need no entry.
import { readFileSync } from 'node:fs'
import type { Account } from './vocabulary.js'

/** The passwd entry for a user name, or for a uid given as digits. */
export function lookupUser(name: string, passwdFile = '/etc/passwd'): Account | undefined {
  const numeric = /^\d+$/.test(name)
  for (const [user, , uid, gid, , home = '', shell = ''] of entries(passwdFile)) {
    if (user !== undefined && (numeric ? uid : user) === name && uid !== undefined && gid !== undefined) {
      return { name: user, uid: Number(uid), gid: Number(gid), home, shell }
    }
  }
  return undefined
}

export function lookupGroup(name: string, groupFile = '/etc/group'): number | undefined {
  if (/^\d+$/.test(name)) return Number(name)
  for (const [group, , gid] of entries(groupFile)) {
    if (group === name && gid !== undefined) return Number(gid)
  }
  return undefined
}

function entries(file: string): string[][] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'))
}

/** The name /etc/passwd gives a uid, or `uid N`. */
export function userName(uid: number, passwdFile = '/etc/passwd'): string {
  return entries(passwdFile).find(([, , id]) => id === String(uid))?.[0] ?? `uid ${uid}`
}
