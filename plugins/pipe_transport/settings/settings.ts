// pipe_transport.ini (as ini-text.ts reads it) into checked, immutable Settings, or every problem
// with it. A typo is an error, never a silent default.
import type { Ini } from './ini-text.js'
import { readInstance, type ReadContext } from './instance.js'
import { readJournalConfig } from './journal-settings.js'
import { checkMainKeys, instanceSections } from './keys.js'
import { readMetricsListen } from './metrics-settings.js'
import { Problems, type ConfigProblem } from './problems.js'
import { routeEntries } from './route-entries.js'
import { SectionReader } from './section-reader.js'
import type { Settings } from './vocabulary.js'

export type SettingsRead =
  | { readonly settings: Settings; readonly warnings: readonly ConfigProblem[] }
  | { readonly errors: readonly ConfigProblem[]; readonly warnings: readonly ConfigProblem[] }

/** The settings, or every error; warnings either way. The errors include what haraka-config's parse of the text lost (ini-text.ts). */
export function readSettings(ini: Ini, context: ReadContext): SettingsRead {
  const { sections } = ini
  const problems = new Problems()
  const mainValues = sections['main'] ?? {}
  checkMainKeys(mainValues, problems)
  const main = new SectionReader('main', mainValues, problems)
  const names = instanceSections(sections, problems)

  const enableOutbound = main.flag('enable_outbound', true)
  const recipientDelimiter = readRecipientDelimiter(main)
  const journal = readJournalConfig(main, context.installDir)
  const metricsListen = readMetricsListen(main)
  const instances = names.map((name) => readInstance(name, sections, context, problems))
  const { addressCounts, ...routes } = routeEntries(instances, ini, problems)
  for (const instance of instances) {
    if (instance.domains.length === 0 && !addressCounts.get(instance)) {
      problems.error(
        instance.name,
        'domain',
        `is required, or a [${instance.name}.address] section: the recipients this instance delivers`,
      )
    }
  }
  if (problems.hasErrors || ini.problems.length > 0)
    return { errors: [...ini.problems, ...problems.errors], warnings: problems.warnings }
  return {
    settings: { instances, routes, addressCounts, recipientDelimiter, enableOutbound, journal, metricsListen },
    warnings: problems.warnings,
  }
}

/** One or more characters; the extension starts at the first of them in a local part (Postfix). */
function readRecipientDelimiter(main: SectionReader): string | undefined {
  const text = main.single('recipient_delimiter')
  if (text === undefined) return undefined
  // A comma would be ambiguous: written as a list (`+,-`), it would become a delimiter itself.
  if (text === '' || /[\s@"\\,]/.test(text)) {
    main.fail(
      'recipient_delimiter',
      `"${text}" must be one or more characters other than white space, @, comma, " and \\, e.g. + or +-`,
    )
    return undefined
  }
  return text
}
