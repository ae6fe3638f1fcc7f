// `[main.env]`, then `[NAME.env]`: variables added to the program's otherwise empty environment;
// values may hold the macros of `arguments`.
import { iniText } from './ini-values.js'
import type { Problems } from './problems.js'
import type { RawSection } from './section-reader.js'
import { TRANSACTION_VARIABLES, parseTemplate } from './templates.js'
import type { Template } from './vocabulary.js'

export function readEnv(
  name: string,
  sections: Readonly<Record<string, RawSection | undefined>>,
  problems: Problems,
): Record<string, Template> {
  const env: Record<string, Template> = {}
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
