import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HARAKA_CONFIG_PATTERNS, textProblems } from '../../plugins/pipe_transport/settings/ini-text.js'
import { formatConfigError } from '../../plugins/pipe_transport/settings/settings.js'

// haraka-config's own reader, to check that both read the same lines.
const harakaRegex = require('haraka-config/lib/regex') as Record<string, RegExp>
const harakaIni = require('haraka-config/lib/readers/ini') as {
  parseIni(name: string, options: object, text: string): Record<string, Record<string, unknown>>
  logger: (message: string) => void
}

const problems = (text: string): string[] => textProblems(text).map((problem) => formatConfigError('f.ini', problem))

/** haraka-config's parse, with what it would print about dropped lines. */
function harakaParse(text: string): { parsed: Record<string, Record<string, unknown>>; printed: string[] } {
  const printed: string[] = []
  const logger = harakaIni.logger
  harakaIni.logger = (message) => printed.push(message)
  try {
    return { parsed: harakaIni.parseIni('f.ini', {}, text), printed }
  } finally {
    harakaIni.logger = logger
  }
}

describe('the text checks beside haraka-config', () => {
  it('uses the very patterns of the haraka-config in node_modules', () => {
    const ours = HARAKA_CONFIG_PATTERNS
    for (const [name, theirs] of [
      ['SECTION', 'section'],
      ['PARAM', 'param'],
      ['COMMENT', 'comment'],
      ['BLANK', 'blank'],
      ['CONTINUATION', 'continuation'],
      ['ARRAY_KEY', 'is_array'],
    ] as const) {
      assert.equal(ours[name].source, harakaRegex[theirs]?.source, `${name} differs from haraka-config's ${theirs}: re-check ini-text.ts against lib/readers/ini.js`)
    }
  })

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
      '[rt.address]',
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
      'f.ini [rt.address] *.example.com: line 4 is dropped by haraka-config: a key cannot hold "*" (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.address] "john smith"@example.com: line 5 is dropped by haraka-config: a key cannot hold """, a space (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.address] no equals sign here: line 6 is dropped by haraka-config: a key cannot hold a space (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.address]: line 7, "= no key", is dropped by haraka-config: it has no key before "="',
      'f.ini [rt.address]: line 8, "[rt.code] ; the map", is dropped by haraka-config: a section line holds only [NAME] (comments go on lines of their own), so the keys after it count as [rt.address]\'s',
      'f.ini [rt.address] __proto__: line 9: haraka-config ignores a key of this name',
      'f.ini [rt.address] prog\u00e9: line 10 is dropped by haraka-config: a key cannot hold "\u00e9" (only letters, digits and _ @ : . + - / [ ])',
      'f.ini [rt.address]: line 11 ends with "\\", which continues it on the next line, but no line follows: haraka-config drops it',
    ])
    // haraka-config indeed has none of them.
    const { parsed, printed } = harakaParse(lines.join('\n'))
    assert.deepEqual(Object.keys(parsed['rt.address'] ?? {}), [])
    assert.equal(printed.length, 7)
  })

  it('gives a continued line the number of its first line', () => {
    assert.deepEqual(problems('[a]\nx = 1 \\\n  2\n"bad" = \\\n  3\n'), [
      'f.ini [a] "bad": line 4 is dropped by haraka-config: a key cannot hold """ (only letters, digits and _ @ : . + - / [ ])',
    ])
  })

  it('reports an unsafe section name once, not the keys in it', () => {
    assert.deepEqual(problems('[prototype]\na = 1\na = 2\n'), ['f.ini [prototype]: line 1: haraka-config ignores this section name and every key in it'])
  })
})
