// check_program and the keys that only mean something beside it.
import { readCheckCodes, CHECK_CODES_SUFFIX } from './check-codes.js'
import type { Problems } from './problems.js'
import { readProgram } from './program-file.js'
import type { RawSection, SectionReader } from './section-reader.js'
import { parseArguments } from './templates.js'
import type { CheckProgram } from './vocabulary.js'

export const CHECK_DEFAULTS = { timeout: 5, cache: 60 } as const

export function readCheckProgram(
  reader: SectionReader,
  sections: Readonly<Record<string, RawSection | undefined>>,
  problems: Problems,
  installDir: string,
  searchPath: string | undefined,
): CheckProgram | undefined {
  if (reader.text('check_program', '') === '') {
    for (const key of ['check_arguments', 'check_timeout', 'check_cache'])
      if (reader.has(key)) reader.fail(key, 'needs check_program')
    const codes = `${reader.section}${CHECK_CODES_SUFFIX}`
    if (sections[codes] !== undefined) problems.error(codes, undefined, 'needs check_program')
    return undefined
  }
  const parsed = parseArguments(reader.text('check_arguments', ''))
  if (!parsed.ok) reader.fail('check_arguments', parsed.error)
  return {
    program: readProgram(reader, 'check_program', installDir, searchPath),
    arguments: parsed.ok ? parsed.value : [],
    timeoutSeconds: reader.integer('check_timeout', CHECK_DEFAULTS.timeout, 1, 30),
    cacheSeconds: reader.integer('check_cache', CHECK_DEFAULTS.cache, 0, 3600),
    codes: readCheckCodes(reader.section, sections, problems),
  }
}
