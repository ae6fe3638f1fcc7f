import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseIni } from 'haraka-config/lib/readers/ini'
import regex = require('haraka-config/lib/regex')
import { iniFromText, type AddressLine } from '../../plugins/pipe_transport/settings/ini-text.js'

const grammar = { regex, parseIni }
const lines = (text: string, section: string): AddressLine[] => [...iniFromText('f.ini', text, grammar).addressLines(section)]

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

  it('gives every other section exactly as haraka-config parses the whole file', () => {
    const { sections } = iniFromText('f.ini', text, grammar)
    const whole = parseIni('f.ini', {}, text)
    for (const name of ['main', 'rt', 'rt.code']) assert.deepEqual(sections[name], whole[name], name)
    // The address section is there, but its entries are read from the text instead.
    assert.deepEqual(Object.keys(sections['rt.address'] ?? { missing: true }), [])
  })

  it('reads the address sections line by line as haraka-config would, and keeps the lines it would drop', () => {
    assert.deepEqual(lines(text, 'rt.address'), [
      { key: 'support@example.com', value: 'general' },
      { key: 'Billing@Example.com', value: 'billing' },
      { key: 'bare@example.com', value: undefined },
      { key: 'continued@example.com', value: 'general' },
      { unreadable: 'star*@example.com = x' },
      { unreadable: '"quoted"@example.com = y' },
      { key: 'second-block@example.com', value: 'z' },
    ])
    assert.deepEqual(lines(text, 'other.address'), [])
  })

  it('counts the address lines and their bytes, to size the table', () => {
    const { addressSize } = iniFromText('f.ini', '[a.address]\nx@y.test = 1\nz@y.test\n', grammar)
    assert.deepEqual(addressSize, { bytes: 22, entries: 2 })
  })
})
