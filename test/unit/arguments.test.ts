import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { expandArguments } from '../../plugins/pipe_transport/invocation/arguments.js'
import type { Envelope } from '../../plugins/pipe_transport/invocation/envelope.js'
import { expandTemplate } from '../../plugins/pipe_transport/invocation/macro-values.js'
import { parseArguments, parseTemplate } from '../../plugins/pipe_transport/settings/templates.js'
import type { Template } from '../../plugins/pipe_transport/settings/vocabulary.js'
import { envelopeFor, recipient } from './recipients.js'

const envelope: Envelope = envelopeFor([recipient('a@y.test'), recipient('b@z.test')])

function words(text: string): Template[] {
  const parsed = parseArguments(text)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.value
}

function argv(text: string, env: Envelope = envelope): string[] | string {
  const expanded = expandArguments(words(text), { envelope: env, instance: 'inst' })
  return expanded.ok ? expanded.value : expanded.error
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
    assert.deepEqual(argv('${queue_id}:${client_address}:${client_helo}:${instance}'), [
      'Q1.1:127.0.0.1:client.test:inst',
    ])
    assert.deepEqual(argv('${sender}', { ...envelope, sender: 'a b;$(rm -rf /)`x`@evil.test' }), [
      'a b;$(rm -rf /)`x`@evil.test',
    ])
  })

  it('expands the Postfix macros where Haraka knows them, and empty where it does not', () => {
    const [a, b] = envelope.recipients
    const known: Envelope = {
      ...envelope,
      size: 1234,
      saslUsername: 'alice',
      envid: 'QQ314159',
      deliveryIds: new Map(
        a && b
          ? [
              [a, 'id-a'],
              [b, 'id-b'],
            ]
          : [],
      ),
    }
    assert.deepEqual(argv('${size} ${sasl_username} ${envid}', known), ['1234', 'alice', 'QQ314159'])
    assert.deepEqual(argv('${size}:${sasl_username}:${envid}'), ['::'])
    // A delivery id belongs to its recipient: the word repeats, as ${recipient}'s does.
    assert.deepEqual(argv('--id ${recipient}=${delivery_id}', known), ['--id', 'a@y.test=id-a', 'b@z.test=id-b'])
    assert.deepEqual(argv('--id ${delivery_id}'), ['--id', '', ''])
  })

  it('expands the null sender to an empty word', () => {
    assert.deepEqual(argv('-f ${sender}', { ...envelope, sender: '' }), ['-f', ''])
  })

  it('refuses a macro value that would start a word with "-"', () => {
    assert.match(
      String(argv('${sender}', { ...envelope, sender: '-oQ/tmp@x.test' })),
      /would start argument "-oQ\/tmp@x\.test" with "-"/,
    )
    assert.match(String(argv('${client_helo}', { ...envelope, clientHelo: '-x' })), /client_helo/)
    // Behind a literal prefix a dash is harmless.
    assert.deepEqual(argv('--from=${sender}', { ...envelope, sender: '-x@y.test' }), ['--from=-x@y.test'])
  })

  it('rejects unknown macros and unbalanced syntax', () => {
    assert.deepEqual(parseArguments('${nope}'), {
      ok: false,
      error:
        'unknown macro ${nope}; known: ${sender} ${recipient} ${user} ${extension} ${mailbox} ${domain} ${original_recipient} ${route_data} ${queue_id} ${client_address} ${client_helo} ${sasl_username} ${size} ${envid} ${delivery_id} ${instance}',
    })
    assert.deepEqual(parseArguments('"open'), { ok: false, error: 'unterminated double quote' })
    assert.deepEqual(parseArguments('${sender'), { ok: false, error: 'unterminated macro at "${sender"' })
  })

  it('leaves a lone dollar sign, and $ words that name no macro, alone', () => {
    assert.deepEqual(argv('$HOME cost$ $1'), ['$HOME', 'cost$', '$1'])
  })

  it('gives user, extension and mailbox per recipient, and the route data of the run', () => {
    const plus = { delimiter: '+', routeData: 'general' }
    const two = envelopeFor([recipient('Alice+Work@Y.test', plus), recipient('bob@y.test', plus)])
    assert.deepEqual(argv('-d ${user} -m ${extension} -x ${mailbox}@${domain} --queue ${route_data}', two), [
      '-d',
      'Alice',
      'bob',
      '-m',
      'Work',
      '',
      '-x',
      'Alice+Work@y.test',
      'bob@y.test',
      '--queue',
      'general',
    ])
  })

  it('gives the original recipient, and the local parts unquoted and folded when asked', () => {
    const aliased = envelopeFor([
      recipient('"John Smith"@y.test', { original: 'Info@Y.test', lowercaseLocalPart: true }),
    ])
    assert.deepEqual(argv('${recipient} ${user} ${original_recipient}', aliased), [
      'john smith@y.test',
      'john smith',
      'info@Y.test',
    ])
  })

  it('refuses an unquoted local part that would start a word with "-"', () => {
    assert.match(
      String(argv('${recipient}', envelopeFor([recipient('"-oQ/tmp/x"@y.test')]))),
      /would start argument "-oQ\/tmp\/x@y\.test" with "-"/,
    )
  })

  it('parses environment values as one string with macros', () => {
    const parsed = parseTemplate('"${user}@${domain}" and $HOME')
    if (!parsed.ok) throw new Error(parsed.error)
    assert.equal(
      expandTemplate(parsed.value, { envelope, instance: 'i' }, envelope.recipients[0]),
      '"a@y.test" and $HOME',
    )
    assert.deepEqual(parseTemplate('${nope}'), parseArguments('${nope}'))
    assert.deepEqual(parseTemplate('x${user'), { ok: false, error: 'unterminated macro at "${user"' })
  })
})
