// How much argv and environment Linux lets a program start with, and whether an instance's
// `arguments` and `[NAME.env]` fit. Past the limit, execve() fails with E2BIG and every delivery of
// the instance fails to start: better refused at load, naming the key.
//
// The limit is the kernel's own rule (fs/exec.c), from the stack limit Haraka has, which its
// programs inherit: a quarter of the soft RLIMIT_STACK, at most 6 MiB and at least 128 KiB, for
// every string with its NUL and a pointer to each; and 128 KiB (MAX_ARG_STRLEN) for any one of them.
// Not `getconf ARG_MAX`: that would start a process at every load to print glibc's reading of the
// same stack limit (sysconf), and it says nothing of the limit on one string.
import { readFileSync } from 'node:fs'
import type { Problems } from './problems.js'
import { TRANSACTION_VARIABLES, usesRecipientMacros } from './templates.js'
import type { Template } from './vocabulary.js'

/** MAX_ARG_STRLEN: one argument, or one NAME=value, with its NUL. */
export const ONE_STRING_MAX = 32 * 4096
const POINTER_BYTES = 8
/**
 * What a macro's value is counted as at load: the longest path RFC 5321 allows. A longer value
 * that does not fit after all fails at run time with E2BIG, a 4xx with the cause in the log.
 */
export const MACRO_BYTES = 256
/** Variables the plugin sets itself: the transaction's, and PATH unless `[NAME.env]` sets it. */
const OWN_VARIABLES = [...Object.keys(TRANSACTION_VARIABLES), 'PATH']

/**
 * The bytes argv and the environment may take together, by the kernel's rule from the soft stack
 * limit in /proc/self/limits; 2 MiB (a quarter of the usual 8 MiB) where that cannot be read.
 */
export function argumentSpace(limits = readLimits()): { readonly bytes: number; readonly stack: string } {
  const soft = /^Max stack size\s+(\S+)/m.exec(limits)?.[1]
  if (soft === undefined) return { bytes: 2 * 1024 * 1024, stack: 'unknown, taken as 8 MiB' }
  const quarter = soft === 'unlimited' ? Number.POSITIVE_INFINITY : Math.floor(Number(soft) / 4)
  return {
    bytes: Math.max(ONE_STRING_MAX, Math.min(6 * 1024 * 1024, quarter)),
    stack: soft === 'unlimited' ? 'unlimited' : `${soft} bytes`,
  }
}

function readLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8')
  } catch {
    return ''
  }
}

/** A string's bytes with its NUL and its pointer, macros counted at MACRO_BYTES. */
function stringBytes(template: Template, prefix = ''): number {
  const text = template.reduce(
    (sum, part) => sum + ('literal' in part ? Buffer.byteLength(part.literal) : MACRO_BYTES),
    Buffer.byteLength(prefix),
  )
  return text + 1 + POINTER_BYTES
}

/**
 * Reports an instance whose program could not start with one recipient per run (or
 * `recipient_limit`): a word or a variable longer than one string may be, or all of them together
 * more than `space` allows.
 */
export function checkArgumentSpace(
  instance: {
    readonly name: string
    readonly program: string
    readonly arguments: readonly Template[]
    readonly env: Readonly<Record<string, Template>>
    readonly recipientLimit: number | undefined
  },
  problems: Problems,
  space = argumentSpace(),
): void {
  const { name } = instance
  const recipients = instance.recipientLimit ?? 1
  let argvBytes = stringBytes([{ literal: instance.program }])
  for (const word of instance.arguments) {
    const bytes = stringBytes(word)
    if (bytes - POINTER_BYTES > ONE_STRING_MAX) {
      problems.error(
        name,
        'arguments',
        `a word of ${bytes - POINTER_BYTES} bytes is longer than the ${ONE_STRING_MAX} bytes Linux allows one argument`,
      )
      return
    }
    argvBytes += usesRecipientMacros(word) ? bytes * recipients : bytes
  }
  let envBytes = 0
  for (const [variable, value] of Object.entries(instance.env)) {
    const bytes = stringBytes(value, `${variable}=`)
    if (bytes - POINTER_BYTES > ONE_STRING_MAX) {
      problems.error(
        `${name}.env`,
        variable,
        `"${variable}=" and its value take ${bytes - POINTER_BYTES} bytes, more than the ${ONE_STRING_MAX} bytes Linux allows one variable`,
      )
      return
    }
    envBytes += bytes
  }
  for (const variable of OWN_VARIABLES)
    if (!(variable in instance.env)) envBytes += stringBytes([{ macro: 'recipient' }], `${variable}=`)
  if (argvBytes + envBytes <= space.bytes) return
  const message =
    `the program's arguments (${argvBytes} bytes${recipients > 1 ? ` for ${recipients} recipients` : ''}) and environment ` +
    `(${envBytes} bytes) need more than the ${space.bytes} bytes Linux allows them (a quarter of the stack limit, ` +
    `${space.stack}, within 128 KiB to 6 MiB; macros counted at ${MACRO_BYTES} bytes each); shorten them${recipients > 1 ? ', or lower recipient_limit' : ''}`
  if (argvBytes >= envBytes) problems.error(name, 'arguments', message)
  else problems.error(`${name}.env`, undefined, message)
}
