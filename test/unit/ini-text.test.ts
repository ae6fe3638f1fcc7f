import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import harakaIniReader = require('haraka-config/lib/readers/ini')
import {
  harakaConfigGrammar,
  iniFromText,
  textProblems,
  type AddressLine,
} from '../../plugins/pipe_transport/settings/ini-text.js'
import { formatProblem } from '../../plugins/pipe_transport/settings/problems.js'

const grammar = harakaConfigGrammar(require)
const NOT_AN_ADDRESS =
  'is not "address" or "address = route data": an address may hold letters, digits and . _ + - / : @ only'
const lines = (text: string, section: string): AddressLine[] => [
  ...iniFromText('f.ini', text, grammar).addressLines(section),
]

describe('ini text', () => {
  const text = [
    'timeout = 30',
    '[rt]',
    'program_name = /bin/cat',
    'arguments = --queue ${route_data}',
    '[rt.address]',
    '; a comment',
    'support@example.com = general',
    '',
    'Billing@Example.com =   billing  ',
    'bare@example.com',
    'continued@example.com = gen\\',
    'eral',
    'star*@example.com = x',
    '"quoted"@example.com = y',
    '[rt.code]',
    '75 = 450 4.3.0 later',
    '[rt.address]',
    'second-block@example.com = z',
  ].join('\r\n')

  it('gives every other section as haraka-config parses the whole file, numbers as the file writes them', () => {
    const { sections } = iniFromText('f.ini', text, grammar)
    const whole = parseIni('f.ini', {}, text)
    // But for values as written: haraka-config makes numbers of `30` and `75`.
    const written = (section: Record<string, unknown> = {}): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(section).map(([key, value]) => [key, typeof value === 'number' ? String(value) : value]),
      )
    for (const name of ['main', 'rt', 'rt.code']) assert.deepEqual({ ...sections[name] }, written(whole[name]), name)
    // The address section is there, but its entries are read from the text instead.
    assert.deepEqual(Object.keys(sections['rt.address'] ?? { missing: true }), [])
  })

  it('reads the address sections line by line as haraka-config would, and keeps the lines it would drop', () => {
    assert.deepEqual(lines(text, 'rt.address'), [
      { ok: true, value: { key: 'support@example.com', value: 'general' } },
      { ok: true, value: { key: 'Billing@Example.com', value: 'billing' } },
      { ok: true, value: { key: 'bare@example.com', value: undefined } },
      { ok: true, value: { key: 'continued@example.com', value: 'general' } },
      { ok: false, key: 'star*@example.com = x', error: NOT_AN_ADDRESS },
      { ok: false, key: '"quoted"@example.com = y', error: NOT_AN_ADDRESS },
      { ok: true, value: { key: 'second-block@example.com', value: 'z' } },
    ])
    assert.deepEqual(lines(text, 'other.address'), [])
  })

  it('reads UTF-8 address keys, which haraka-config would drop, in [NAME.address] and [unrouted]', () => {
    const utf8 = '[rt.address]\ngrüße@bücher.example = grüße\n[unrouted]\nmüller@example.com\npostmaster@\n'
    assert.deepEqual(lines(utf8, 'rt.address'), [{ ok: true, value: { key: 'grüße@bücher.example', value: 'grüße' } }])
    assert.deepEqual(lines(utf8, 'unrouted'), [
      { ok: true, value: { key: 'müller@example.com', value: undefined } },
      { ok: true, value: { key: 'postmaster@', value: undefined } },
    ])
    assert.deepEqual({ ...iniFromText('f.ini', utf8, grammar).sections['unrouted'] }, {})
  })

  it('refuses an inline comment, and quotes around a value, in an address line', () => {
    const text = [
      '[rt.address]',
      'billing@example.com = billing   ; the billing queue',
      'sales@example.com = "sales"',
      'a@example.com = x;y#z',
      '[unrouted]',
      'postmaster@example.com ; the postmaster',
    ].join('\n')
    const comment = (what: string): string =>
      `"${what}" would be part of the value: inline comments are not comments in haraka-config ini; put the comment on a line of its own`
    assert.deepEqual(lines(text, 'rt.address'), [
      { ok: false, key: 'billing@example.com', error: comment('; the billing queue') },
      {
        ok: false,
        key: 'sales@example.com',
        error: 'haraka-config keeps the quotes of "sales" as part of the value; write "sales@example.com = sales"',
      },
      { ok: true, value: { key: 'a@example.com', value: 'x;y#z' } },
    ])
    assert.deepEqual(lines(text, 'unrouted'), [
      { ok: false, key: 'postmaster@example.com ; the postmaster', error: comment('; the postmaster') },
    ])
  })

  it('keeps values as written where haraka-config would make numbers of them', () => {
    const { sections } = iniFromText(
      'f.ini',
      '[rt.env]\nZIP = 01234\nVERSION = 1.10\nPORT = 25\nBIG = 12345678901234567890\n[rt]\ndomain[] = 007\ndomain[] = a.test\n',
      grammar,
    )
    assert.deepEqual(
      { ...sections['rt.env'] },
      { ZIP: '01234', VERSION: '1.10', PORT: '25', BIG: '12345678901234567890' },
    )
    assert.deepEqual(sections['rt']?.['domain'], ['007', 'a.test'])
  })

  it('counts the address lines and their bytes, to size the table', () => {
    const { addressSize } = iniFromText('f.ini', '[a.address]\nx@y.test = 1\nz@y.test\n', grammar)
    assert.deepEqual(addressSize, { bytes: 22, entries: 2 })
  })
})

const problems = (text: string): string[] =>
  textProblems(text, grammar).map((problem) => formatProblem('f.ini', problem))
const harakaIni = harakaIniReader as unknown as { logger: (message: string) => void }
const { parseIni } = harakaIniReader

/** haraka-config's parse, with what it would print about dropped lines. */
function harakaParse(text: string): { parsed: Record<string, Record<string, unknown>>; printed: string[] } {
  const printed: string[] = []
  const logger = harakaIni.logger
  harakaIni.logger = (message) => printed.push(message)
  try {
    return { parsed: parseIni('f.ini', {}, text), printed }
  } finally {
    harakaIni.logger = logger
  }
}

describe("what haraka-config's parse loses, found in the text", () => {
  it('finds nothing in a clean file: address keys with and without values, key[] lines, continued lines', () => {
    const text = [
      '; comment',
      '# comment',
      'timeout = 60',
      '[rt]',
      'program_name = /opt/rt5/bin/rt-mailgate',
      'domain[] = a.test',
      'domain[] = b.test',
      'arguments = --queue ${route_data} \\',
      '    --action correspond',
      '[rt.address]',
      'support@example.com = general',
      'list+subscribe@example.com',
      '@example.com',
      'Support@example.com = other',
      '[rt.code]',
      '0 = 250 ok',
    ].join('\n')
    assert.deepEqual(problems(text), [])
    assert.deepEqual(harakaParse(text).printed, [])
  })

  it('reports every key set twice, with its lines; haraka-config keeps only the last', () => {
    const text = [
      'timeout = 5',
      '[one]',
      'program_name = /bin/cat',
      'timeout = 10',
      'timeout = 20',
      '[two]',
      'domain = a.test',
      'domain[] = b.test',
      '[one]',
      'timeout = 30',
      '[main]',
      'timeout = 6',
    ].join('\n')
    assert.deepEqual(problems(text), [
      'f.ini [main] timeout: is set on lines 1 and 12: haraka-config keeps only the last; write it once',
      'f.ini [one] timeout: is set on lines 4, 5 and 10: haraka-config keeps only the last; write it once',
      'f.ini [two] domain: is set on lines 7 and 8, both as "domain =" and as "domain[] =": haraka-config keeps only the last form; use one of them',
    ])
    const { parsed } = harakaParse(text)
    assert.equal(parsed['one']?.['timeout'], 30)
    assert.deepEqual(parsed['two']?.['domain'], ['b.test'])
  })

  it('reports every line haraka-config drops, naming the key where there is one', () => {
    const lines = [
      '[rt]', // 1
      'program_name = /bin/cat',
      '[rt.env]',
      '*.example.com = wild', // 4
      '"john smith"@example.com = quoted', // 5
      'no equals sign here', // 6
      '= no key', // 7
      '[rt.code] ; the map', // 8
      '__proto__ = 1', // 9
      'prog\u00e9 = x', // 10
      'last = line \\', // 11
    ]
    assert.deepEqual(problems(lines.join('\n')), [
      'f.ini [rt.env] *.example.com: line 4 is dropped by haraka-config: a key cannot hold "*" (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.env] "john smith"@example.com: line 5 is dropped by haraka-config: a key cannot hold """, a space (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.env] no equals sign here: line 6 is dropped by haraka-config: a key cannot hold a space (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.env]: line 7, "= no key", is dropped by haraka-config: it has no key before "="',
      'f.ini [rt.env]: line 8, "[rt.code] ; the map", is dropped by haraka-config: a section line holds only [NAME] (comments go on lines of their own), so the keys after it count as [rt.env]\'s',
      'f.ini [rt.env] __proto__: line 9: haraka-config ignores a key of this name',
      'f.ini [rt.env] prog\u00e9: line 10 is dropped by haraka-config: a key cannot hold "\u00e9" (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.env]: line 11 ends with "\\", which continues it on the next line, but no line follows: haraka-config drops it',
    ])
    // haraka-config indeed has none of them.
    const { parsed, printed } = harakaParse(lines.join('\n'))
    assert.deepEqual(Object.keys(parsed['rt.env'] ?? {}), [])
    assert.equal(printed.length, 7)
  })

  it('gives a continued line the number of its first line', () => {
    assert.deepEqual(problems('[a]\nx = 1 \\\n  2\n"bad" = \\\n  3\n'), [
      'f.ini [a] "bad": line 4 is dropped by haraka-config: a key cannot hold """ (only letters, digits and _ @ : . + - / [ ])',
    ])
  })

  it('reports an inline comment after a value, and quotes haraka-config keeps, but not quotes that group arguments', () => {
    const text = [
      'timeout = 30 # half a minute', // 1
      '[rt]',
      'program_name = "/opt/rt5/bin/rt-mailgate"', // 3
      "arguments = --queue general --url http://rt.example.com/ ; RT's URL", // 4
      'check_arguments = -s "a ; b" "#c" x#y', // 5
      'user = rt;x',
      '[rt.env]',
      "GREETING = 'hello'", // 8
      'EMPTY =',
      'HASH = #fff',
      'NONE = # none yet', // 11
      '[rt.code]',
      '75 = 450 4.3.0 later ;later', // 13
    ].join('\n')
    const comment = (line: number, what: string): string =>
      `line ${line}: "${what}" would be part of the value: inline comments are not comments in haraka-config ini; put the comment on a line of its own`
    assert.deepEqual(problems(text), [
      `f.ini [main] timeout: ${comment(1, '# half a minute')}`,
      'f.ini [rt] program_name: line 3: haraka-config keeps the quotes of "/opt/rt5/bin/rt-mailgate" as part of the value; write "program_name = /opt/rt5/bin/rt-mailgate"',
      `f.ini [rt] arguments: ${comment(4, "; RT's URL")}`,
      'f.ini [rt.env] GREETING: line 8: haraka-config keeps the quotes of \'hello\' as part of the value; write "GREETING = hello"',
      `f.ini [rt.env] NONE: ${comment(11, '# none yet')}`,
      `f.ini [rt.code] 75: ${comment(13, ';later')}`,
    ])
  })

  it('leaves the [NAME.address] sections to the routing table, which reads them line by line', () => {
    assert.deepEqual(
      problems('[rt.address]\nstar*@example.com = x\na@example.com = 1\na@example.com = 2\n[rt]\ntimeout = 1\n'),
      [],
    )
  })

  it('reports an unsafe section name once, not the keys in it', () => {
    assert.deepEqual(problems('[prototype]\na = 1\na = 2\n'), [
      'f.ini [prototype]: line 1: haraka-config ignores this section name and every key in it',
    ])
  })
})
