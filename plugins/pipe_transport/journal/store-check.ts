// LMDB keeps no checksums, and lmdb-js trusts the file: a data.mdb that is not an LMDB file, or
// has damaged pages, crashes the process that opens or reads it with SIGSEGV (seen with lmdb 3.5.6:
// a 5-byte file is enough), or reads as LMDB's own errors (MDB_PAGE_NOTFOUND). A journal process
// that crashed on it at every start would leave pipe_transport without a journal for good. So the
// journal process first has an existing store opened and read through by a throwaway child
// process; a store that crashes it, or that LMDB calls damaged, is moved aside (losing its entries
// risks a duplicate delivery, never a lost message) and a fresh one takes its place.

import { spawn } from 'node:child_process'
import { rename, stat } from 'node:fs/promises'
import { join } from 'node:path'

export type StoreCheck =
  | { readonly verdict: 'sound' }
  | { readonly verdict: 'moved aside'; readonly to: string; readonly why: string }
  | { readonly verdict: 'refused'; readonly why: string }

const childScript = join(__dirname, 'store-check-child.js')

export async function checkStore(directory: string, timeoutMs: number): Promise<StoreCheck> {
  const before = await inodeOf(join(directory, 'data.mdb'))
  if (before === undefined) return { verdict: 'sound' } // a new store: LMDB creates it
  const outcome = await runChild(directory, timeoutMs)
  if (outcome.kind === 'read through') return { verdict: 'sound' }
  if (outcome.kind === 'refused') return { verdict: 'refused', why: outcome.why }
  // Cluster workers check at the same moment: only move the file that was checked, not the fresh
  // store that another worker may have created after moving the damaged one.
  if ((await inodeOf(join(directory, 'data.mdb'))) !== before) return checkStore(directory, timeoutMs)
  const to = `${directory}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`
  await rename(directory, to)
  return { verdict: 'moved aside', to, why: outcome.why }
}

type ChildOutcome = { kind: 'read through' } | { kind: 'damaged'; why: string } | { kind: 'refused'; why: string }

function runChild(directory: string, timeoutMs: number): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [childScript, directory], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: timeoutMs,
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', (error) => resolve({ kind: 'refused', why: `cannot start the check: ${error.message}` }))
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ kind: 'read through' })
      else if (code === 3) resolve({ kind: 'damaged', why: `LMDB says it is damaged: ${stderr.trim()}` })
      // A timeout is no proof of damage (a slow disk): refuse for now, the next open checks again.
      else if (signal === 'SIGTERM') resolve({ kind: 'refused', why: `the check took longer than ${timeoutMs} ms` })
      else if (signal !== null) resolve({ kind: 'damaged', why: `reading it crashed a process (${signal})` })
      else resolve({ kind: 'refused', why: stderr.trim() || `the check exited with ${code}` })
    })
  })
}

async function inodeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino
  } catch {
    return undefined
  }
}
