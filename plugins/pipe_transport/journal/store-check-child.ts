// Run by store-check.ts as a separate Node process: opens an existing local store and reads every
// entry, so that a damaged file crashes this throwaway process instead of Haraka. Exit 0: the
// store opened and read through. Exit 2 with the error on stderr: it refused cleanly.

import { open } from 'lmdb'
import { messageOf } from '../util/error-message.js'

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
  process.exit(2)
}
