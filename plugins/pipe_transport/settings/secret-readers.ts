// pipe_transport.ini may hold secrets: a Redis password in `journal`, or an `[NAME.env]` value
// whose variable's name says it is one. A program that runs as another user (`user`) must not be
// able to read them from the file. Haraka (root) reads the file whatever its mode, so nothing is
// lost by making it readable by root only; a warning rather than an error, as mail flows either
// way. Judged by the mode bits against the program's uid and gid, as child_process runs it (no
// supplementary groups), along the whole path; ACLs aside.
import { realpathSync, statSync, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import { userName } from './accounts.js'
import type { Ini } from './ini-text.js'
import { iniText } from './ini-values.js'
import { ancestors } from './output-paths.js'
import type { ConfigProblem } from './problems.js'
import type { Instance } from './vocabulary.js'

/**
 * Variable names that say their value is a secret: PASSWORD, PASSWD and PASSPHRASE, SECRET, TOKEN,
 * KEY (API_KEY, ...) and CREDENTIAL(S), in any case and anywhere in the name.
 */
const SECRET_NAME = /PASS|SECRET|TOKEN|KEY|CREDENTIAL/i

const READ = 0o4
const SEARCH = 0o1

/** A warning for each secret in the file, when the user of some instance can read the file. */
export function secretReaderWarnings(file: string, ini: Ini, instances: readonly Instance[]): ConfigProblem[] {
  const secrets = secretsIn(ini)
  if (secrets.length === 0) return []
  const readers = new Map<number, string[]>()
  for (const { name, uid, gid } of instances) {
    if (uid === undefined || gid === undefined || !readableBy(file, uid, gid)) continue
    readers.set(uid, [...(readers.get(uid) ?? []), `[${name}]`])
  }
  if (readers.size === 0) return []
  const stats = statSync(file)
  const who = [...readers].map(([uid, names]) => `user ${userName(uid)} (${names.join(', ')})`).join(', ')
  const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0')
  return secrets.map(({ section, key, what }) => ({
    section,
    key,
    message:
      `holds ${what}, and the file can be read by ${who}, whose programs could read it too ` +
      `(mode ${mode}, owner uid ${stats.uid}, gid ${stats.gid}); make it readable by root only (chmod 600)`,
  }))
}

function secretsIn(ini: Ini): { section: string; key: string; what: string }[] {
  const found: { section: string; key: string; what: string }[] = []
  const journal = iniText(ini.sections['main']?.['journal']).trim()
  if (/^rediss?:\/\//.test(journal) && URL.canParse(journal) && new URL(journal).password !== '')
    found.push({ section: 'main', key: 'journal', what: 'a Redis password' })
  for (const [section, values] of Object.entries(ini.sections)) {
    if (!section.endsWith('.env') || values === undefined) continue
    for (const [key, value] of Object.entries(values)) {
      // A value made of macros only (`${route_data}`) holds nothing of the file's own.
      const literal = iniText(value)
        .replace(/\$\{[^}]*\}/g, '')
        .trim()
      if (SECRET_NAME.test(key) && literal !== '') found.push({ section, key, what: `a secret (${key})` })
    }
  }
  return found
}

/** Whether uid/gid may open the file for reading: every directory on the way searchable, the file readable. */
function readableBy(file: string, uid: number, gid: number): boolean {
  let real: string
  try {
    real = realpathSync(file)
  } catch {
    return false
  }
  const allows = (stats: Stats, bit: number): boolean => {
    if (uid === stats.uid) return (stats.mode & (bit << 6)) !== 0
    if (gid === stats.gid) return (stats.mode & (bit << 3)) !== 0
    return (stats.mode & bit) !== 0
  }
  try {
    return (
      ancestors(dirname(real)).every((directory) => allows(statSync(directory), SEARCH)) && allows(statSync(real), READ)
    )
  } catch {
    return false
  }
}
