// pipe_transport.ini as haraka-config reads any ini, with one difference: the entries of the
// `[NAME.address]` sections are not turned into objects. Those sections can hold 100,000
// addresses; parsed into one object they cost tens of MB that V8 keeps (see routing/address-table.ts),
// so they are read from the text, one entry at a time, when settings.ts builds the routing table.
// Every other line goes to haraka-config's own parser, and every line is split and classified
// with haraka-config's own regular expressions, so the file means what any Haraka ini means.

/** What haraka-config provides; the entry hands it over (only the sandboxed entry can require it). */
export interface IniGrammar {
  /** haraka-config's lib/regex.js. */
  readonly regex: {
    readonly section: RegExp
    readonly param: RegExp
    readonly comment: RegExp
    readonly blank: RegExp
    readonly continuation: RegExp
  }
  /** haraka-config's lib/readers/ini.js parseIni(): the file name only appears in its log lines. */
  parseIni(name: string, options: Record<string, unknown>, data: string): Record<string, Record<string, unknown>>
}

export type RawSection = Readonly<Record<string, unknown>>

/**
 * A line of a `[NAME.address]` section: a key, its value (undefined for a key written alone,
 * without `=`), or a line that haraka-config could not read as `key` or `key = value` (it would
 * drop it without a word).
 */
export type AddressLine = { readonly key: string; readonly value: string | undefined } | { readonly unreadable: string }

export interface Ini {
  /** Every section, as haraka-config parses it; the `[NAME.address]` ones are here, but empty. */
  readonly sections: Readonly<Record<string, RawSection | undefined>>
  /** A `[NAME.address]` section's lines, in the file's order. */
  addressLines(section: string): Iterable<AddressLine>
  /** How many bytes and lines all `[NAME.address]` sections take, to size the routing table. */
  readonly addressSize: { readonly bytes: number; readonly entries: number }
}

export const ADDRESS_SUFFIX = '.address'

/** The ini for sections already parsed into objects (tests, and haraka-config's own parse). */
export function iniFromSections(sections: Readonly<Record<string, RawSection | undefined>>): Ini {
  return {
    sections,
    *addressLines(section) {
      for (const [key, value] of Object.entries(sections[section] ?? {})) {
        yield { key, value: value === undefined || value === null ? undefined : String(value) }
      }
    },
    addressSize: { bytes: 4096, entries: 256 },
  }
}

/** The ini for the file's text. */
export function iniFromText(file: string, text: string, grammar: IniGrammar): Ini {
  const { regex } = grammar
  const rest: string[] = []
  /** Where each address section's lines are: [start, end) offsets into `text`, per block of it. */
  const ranges = new Map<string, [number, number][]>()
  let inAddress: [number, number] | undefined
  const addressSize = { bytes: 0, entries: 0 }
  for (const { line, end } of lines(text, 0, text.length)) {
    const header = regex.section.exec(line)
    if (header) {
      const name = (header[1] ?? '').trim()
      inAddress = name.endsWith(ADDRESS_SUFFIX) ? [end, end] : undefined
      if (inAddress) ranges.set(name, [...(ranges.get(name) ?? []), inAddress])
      rest.push(line)
    } else if (inAddress) {
      addressSize.bytes += end - inAddress[1]
      addressSize.entries++
      inAddress[1] = end
    } else {
      rest.push(line)
    }
  }
  const addressLines = function* (section: string): Iterable<AddressLine> {
    for (const [from, to] of ranges.get(section) ?? []) {
      let pending = ''
      for (const { line: raw } of lines(text, from, to)) {
        if (regex.comment.test(raw) || regex.blank.test(raw)) continue
        // A trailing backslash continues the line, as haraka-config reads it.
        if (regex.continuation.test(raw)) {
          pending += raw.replace(regex.continuation, '')
          continue
        }
        const line = pending + raw
        pending = ''
        const param = regex.param.exec(line)
        yield param ? { key: param[1] ?? '', value: param[2] } : { unreadable: line }
      }
    }
  }
  return { sections: grammar.parseIni(file, {}, rest.join('\n')), addressLines, addressSize }
}

/** The lines of text[from, to), split as haraka-config splits a file (CRLF, CR or LF). */
function* lines(text: string, from: number, to: number): Iterable<{ line: string; end: number }> {
  let start = from
  while (start < to) {
    let end = start
    while (end < to && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++
    const line = text.slice(start, end)
    if (text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10) end++
    yield { line, end: end + 1 }
    start = end + 1
  }
}
