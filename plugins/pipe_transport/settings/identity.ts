// `user` and `group`: who an instance's programs run as. They can only be honoured by a Haraka that
// is root when it delivers, and never as root: a program that needs root is a configuration error.
import { lookupGroup, lookupUser } from './accounts.js'
import type { SectionReader } from './section-reader.js'

export interface Identity {
  readonly uid: number | undefined
  readonly gid: number | undefined
}

export function readIdentity(reader: SectionReader, runningAsRoot: boolean): Identity {
  const user = reader.text('user', '')
  const group = reader.text('group', '')
  if (user === '' && group === '') return { uid: undefined, gid: undefined }
  if (!runningAsRoot) {
    reader.fail(user === '' ? 'group' : 'user', 'needs Haraka to run as root and stay root (no user in smtp.ini)')
    return { uid: undefined, gid: undefined }
  }
  const account = user === '' ? undefined : lookupUser(user)
  if (user !== '' && account === undefined) reader.fail('user', `no such user "${user}"`)
  if (account?.uid === 0) reader.fail('user', 'programs never run as root (uid 0)')
  const gid = group === '' ? account?.gid : lookupGroup(group)
  if (group !== '' && gid === undefined) reader.fail('group', `no such group "${group}"`)
  if (gid === 0) reader.fail(group === '' ? 'user' : 'group', 'programs never run with group root (gid 0)')
  if (account !== undefined && gid === undefined)
    reader.fail('group', `is required: user "${user}" has no passwd entry to take a group from`)
  return { uid: account?.uid, gid }
}
