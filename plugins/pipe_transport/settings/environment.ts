// What the program's otherwise empty environment holds besides the transaction's variables: PATH,
// HOME, LOGNAME and SHELL of the user it runs as (as Postfix's local(8) gives them; many programs
// find their config under HOME, and die without it), then `[main.env]`, then `[NAME.env]`, which
// may replace them. Values may hold the macros of `arguments`.
import { iniText } from './ini-values.js'
import type { Problems } from './problems.js'
import type { RawSection } from './section-reader.js'
import { TRANSACTION_VARIABLES, parseTemplate } from './templates.js'
import type { Account, Template } from './vocabulary.js'

/** The program's PATH, unless `[NAME.env]` sets it. */
export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'

export function readEnv(
  name: string,
  sections: Readonly<Record<string, RawSection | undefined>>,
  account: Account | undefined,
  problems: Problems,
): Record<string, Template> {
  const env: Record<string, Template> = {
    PATH: [{ literal: DEFAULT_PATH }],
    ...(account && {
      HOME: [{ literal: account.home }],
      LOGNAME: [{ literal: account.name }],
      SHELL: [{ literal: account.shell }],
    }),
  }
  for (const section of ['main.env', `${name}.env`]) {
    for (const [key, value] of Object.entries(sections[section] ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
        problems.error(section, key, 'is not a valid environment variable name')
      else if (value === undefined)
        problems.error(section, key, `has no value; write "${key} = ..." ("${key} =" sets it empty)`)
      else if (key in TRANSACTION_VARIABLES)
        problems.error(section, key, 'is set by pipe_transport from the transaction and cannot be configured')
      else {
        const parsed = parseTemplate(iniText(value))
        if (parsed.ok) env[key] = parsed.value
        else problems.error(section, key, parsed.error)
      }
    }
  }
  return env
}
