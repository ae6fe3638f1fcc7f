// `user` and `group`: who an instance's programs run as. They can only be honoured by a Haraka that
// is root when it delivers, and never as root: a program that needs root is a configuration error.
// Without them programs run as Haraka's own user, which is root when Haraka stays root (as `user`
// elsewhere in the file needs it to): said at load with a warning, as Postfix's pipe(8) refuses
// to run as root at all.
import { lookupGroup, lookupUser } from './accounts.js'
import type { Account } from './vocabulary.js'
import type { SectionReader } from './section-reader.js'

/** Who Haraka is when it delivers (config-file.ts works it out from smtp.ini and the process). */
export interface HarakaUser {
  /** Haraka runs as root and stays root: `user`/`group` can be honoured, and programs without them run as root. */
  readonly root: boolean
  /** Its passwd entry, if it has one. */
  readonly account: Account | undefined
}

export interface Identity {
  /** undefined: Haraka's own. */
  readonly uid: number | undefined
  readonly gid: number | undefined
  /** The passwd entry of the user the programs run as, if it has one: HOME, LOGNAME and SHELL come from it. */
  readonly account: Account | undefined
  /** The programs run as root: Haraka delivers as root, and the instance sets no `user`. */
  readonly root: boolean
}

export function readIdentity(reader: SectionReader, haraka: HarakaUser): Identity {
  const user = reader.text('user', '')
  const group = reader.text('group', '')
  const harakas: Identity = { uid: undefined, gid: undefined, account: haraka.account, root: haraka.root }
  if (user === '' && group === '') return harakas
  if (!haraka.root) {
    reader.fail(user === '' ? 'group' : 'user', 'needs Haraka to run as root and stay root (no user in smtp.ini)')
    return harakas
  }
  const account = user === '' ? undefined : lookupUser(user)
  const uid = account?.uid ?? (/^\d+$/.test(user) ? Number(user) : undefined)
  if (user !== '' && uid === undefined) reader.fail('user', `no such user "${user}"`)
  if (uid === 0) reader.fail('user', 'programs never run as root (uid 0)')
  const gid = group === '' ? account?.gid : lookupGroup(group)
  if (group !== '' && gid === undefined) reader.fail('group', `no such group "${group}"`)
  if (gid === 0) reader.fail(group === '' ? 'user' : 'group', 'programs never run with group root (gid 0)')
  if (uid !== undefined && gid === undefined && group === '')
    reader.fail('group', `is required: user "${user}" has no passwd entry to take a group from`)
  return user === '' ? { uid: undefined, gid, account: haraka.account, root: true } : { uid, gid, account, root: false }
}
