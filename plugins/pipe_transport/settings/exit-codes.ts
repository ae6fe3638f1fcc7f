// An instance's exit-code table: its code_preset, overridden entry by entry by [main.code], then by
// [NAME.code]. A key is an exit status (0 to 255) or `default`; a value is a reply line.
import { iniText } from './ini-values.js'
import type { Problems } from './problems.js'
import { parseReplyLine, replyLine } from './replies.js'
import type { RawSection } from './section-reader.js'
import type { ExitCodeTable, Reply } from './vocabulary.js'

/** A text to suggest for a failure reply written without one. */
const EXAMPLE_TEXT = { denysoft: '4.3.0 try again later', deny: '5.3.0 delivery failed' } as const

export function readExitCodes(
  name: string,
  sections: Readonly<Record<string, RawSection | undefined>>,
  preset: ExitCodeTable,
  problems: Problems,
): ExitCodeTable {
  const entries = new Map<number, Reply>(preset.entries)
  let otherwise = preset.otherwise
  for (const section of ['main.code', `${name}.code`]) {
    for (const [key, value] of Object.entries(sections[section] ?? {})) {
      // haraka-config turns `0 = 250` into the number 250, and a line `75` into a key with no value.
      if (value === undefined) {
        problems.error(section, key, `has no reply; write it as in "${key} = 450 ${EXAMPLE_TEXT.denysoft}"`)
        continue
      }
      const line = iniText(value)
      const parsed = parseReplyLine(line)
      if (!parsed.ok) {
        problems.error(section, key, parsed.error)
        continue
      }
      const reply = parsed.value
      if (reply.verdict !== 'ok' && reply.text === '') {
        const suggestion = `write one, as in "${line} ${EXAMPLE_TEXT[reply.verdict]}"`
        problems.error(
          section,
          key,
          `"${line}" has no text, so the client would get Haraka's "${replyLine(reply)}"; ${suggestion}`,
        )
      } else if (key === 'default') otherwise = reply
      else if (/^\d+$/.test(key) && Number(key) <= 255) {
        if (Number(key) === 0 && reply.verdict !== 'ok') {
          const then = reply.verdict === 'denysoft' ? 'retries' : 'bounces'
          problems.warn(
            section,
            key,
            `"${line}" answers a program that succeeded with a failure: the sender ${then} a message the program may have delivered`,
          )
        }
        entries.set(Number(key), reply)
      } else problems.error(section, key, 'must be an exit status from 0 to 255, or "default"')
    }
  }
  return { entries, otherwise }
}
