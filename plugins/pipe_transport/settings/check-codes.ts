// What check_program's exit status says about a recipient: its own table, `[NAME.check_codes]`
// (over `[main.check_codes]`, over the defaults), apart from the delivery's `[NAME.code]`, in which
// the same status can mean something else. The defaults are what common tools mean: `getent
// passwd NAME` exits 2 for an unknown name, `doveadm user` and sysexits programs 67 (EX_NOUSER).
// A status the table does not name defers: a check that fails for its own reasons (a crash, a
// missing file) must never refuse mail for good.
import { iniText } from './ini-values.js'
import type { Problems } from './problems.js'
import type { RawSection } from './section-reader.js'
import { CHECK_ANSWERS, type CheckAnswer } from './vocabulary.js'

export const CHECK_CODES_SUFFIX = '.check_codes'

export const DEFAULT_CHECK_CODES: ReadonlyMap<number, CheckAnswer> = new Map([
  [0, 'accept'],
  [2, 'refuse'],
  [67, 'refuse'],
])

export function readCheckCodes(
  name: string,
  sections: Readonly<Record<string, RawSection | undefined>>,
  problems: Problems,
): ReadonlyMap<number, CheckAnswer> {
  const codes = new Map(DEFAULT_CHECK_CODES)
  for (const section of [`main${CHECK_CODES_SUFFIX}`, `${name}${CHECK_CODES_SUFFIX}`]) {
    for (const [key, value] of Object.entries(sections[section] ?? {})) {
      const answer = iniText(value).trim().toLowerCase()
      if (!/^\d+$/.test(key) || Number(key) > 255) problems.error(section, key, 'must be an exit status from 0 to 255')
      else if (!isCheckAnswer(answer))
        problems.error(
          section,
          key,
          `"${iniText(value)}" must be accept (the recipient exists), refuse (550 5.1.1) or defer (450 4.3.0)`,
        )
      else codes.set(Number(key), answer)
    }
  }
  return codes
}

function isCheckAnswer(word: string): word is CheckAnswer {
  return (CHECK_ANSWERS as readonly string[]).includes(word)
}
