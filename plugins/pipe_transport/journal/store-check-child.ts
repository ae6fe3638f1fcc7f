// Run by store-check.ts as a separate Node process: opens an existing local store and reads every
// entry, so that a damaged file crashes this throwaway process instead of the journal process.
// Exit 0: the store opened and read through. Exit 3 with LMDB's words on stderr: LMDB itself says
// the file is damaged. Exit 2 with the error on stderr: it refused for another reason (permissions,
// say), which moving the store aside would not cure.

import { open } from 'lmdb'
import { messageOf } from '../util/error-message.js'

/** LMDB's errors for a file that is not, or no longer, a sound LMDB store. */
const DAMAGE = /^MDB_(INVALID|CORRUPTED|PAGE_NOTFOUND|VERSION_MISMATCH|PANIC|BAD_TXN|BAD_DBI|BAD_VALSIZE)\b/

const directory = process.argv[2]
if (directory === undefined) {
  process.stderr.write('usage: store-check-child DIRECTORY\n')
  process.exit(2)
}

try {
  const store = open<Buffer, Buffer>({ path: directory, readOnly: true, keyEncoding: 'binary', encoding: 'binary' })
  let entries = 0
  for (const { value } of store.getRange()) entries += value.length > 0 ? 1 : 0
  process.stdout.write(`${entries}\n`)
  process.exit(0)
} catch (error) {
  process.stderr.write(`${messageOf(error)}\n`)
  process.exit(DAMAGE.test(messageOf(error)) ? 3 : 2)
}
