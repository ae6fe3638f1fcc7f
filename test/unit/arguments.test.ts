import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { expandArguments, parseArguments, type WordTemplate } from '../../plugins/pipe_transport/invocation/arguments.js'
import type { Envelope } from '../../plugins/pipe_transport/invocation/envelope.js'

const envelope: Envelope = {
  sender: 's@x.test',
  recipients: [
    { address: 'a@y.test', user: 'a', domain: 'y.test' },
    { address: 'b@z.test', user: 'b', domain: 'z.test' },
  ],
  queueId: 'Q1.1',
  clientAddress: '127.0.0.1',
  clientHelo: 'client.test',
}

function words(text: string): WordTemplate[] {
  const parsed = parseArguments(text)
  if ('error' in parsed) throw new Error(parsed.error)
  return parsed.words
}

function argv(text: string, env: Envelope = envelope): string[] | string {
  const expanded = expandArguments(words(text), { envelope: env, instance: 'inst' })
  return 'argv' in expanded ? expanded.argv : expanded.refused
}

describe('arguments', () => {
  it('splits on white space and groups double-quoted words', () => {
    assert.deepEqual(argv('  -a   "b c"  d"e f"g "" '), ['-a', 'b c', 'de fg', ''])
  })

  it('gives the example from the issue', () => {
    assert.deepEqual(argv('-f ${sender} -- ${recipient}'), ['-f', 's@x.test', '--', 'a@y.test', 'b@z.test'])
  })

  it('repeats a word with a recipient macro once per recipient, pairing user and domain', () => {
    assert.deepEqual(argv('-d ${user}@${domain}'), ['-d', 'a@y.test', 'b@z.test'])
  })

  it('expands the single-valued macros inside a word, never splitting their values', () => {
    assert.deepEqual(argv('${queue_id}:${client_address}:${client_helo}:${instance}'), ['Q1.1:127.0.0.1:client.test:inst'])
    assert.deepEqual(argv('${sender}', { ...envelope, sender: 'a b;$(rm -rf /)`x`@evil.test' }), ['a b;$(rm -rf /)`x`@evil.test'])
  })

  it('expands the null sender to an empty word', () => {
    assert.deepEqual(argv('-f ${sender}', { ...envelope, sender: '' }), ['-f', ''])
  })

  it('refuses a macro value that would start a word with "-"', () => {
    assert.match(String(argv('${sender}', { ...envelope, sender: '-oQ/tmp@x.test' })), /would start argument "-oQ\/tmp@x\.test" with "-"/)
    assert.match(String(argv('${client_helo}', { ...envelope, clientHelo: '-x' })), /client_helo/)
    // Behind a literal prefix a dash is harmless.
    assert.deepEqual(argv('--from=${sender}', { ...envelope, sender: '-x@y.test' }), ['--from=-x@y.test'])
  })

  it('rejects unknown macros and unbalanced syntax', () => {
    assert.deepEqual(parseArguments('${nope}'), { error: 'unknown macro ${nope}; known: ${sender} ${recipient} ${user} ${domain} ${queue_id} ${client_address} ${client_helo} ${instance}' })
    assert.deepEqual(parseArguments('"open'), { error: 'unterminated double quote' })
    assert.deepEqual(parseArguments('${sender'), { error: 'unterminated macro at "${sender"' })
  })

  it('leaves a lone dollar sign alone', () => {
    assert.deepEqual(argv('$HOME cost$'), ['$HOME', 'cost$'])
  })
})
