import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { argumentSpace } from '../../plugins/pipe_transport/settings/argument-space.js'
import { checkConfigFile } from '../../plugins/pipe_transport/settings/config-file.js'
import { harakaConfigGrammar, iniFromSections } from '../../plugins/pipe_transport/settings/ini-text.js'
import { lookupRoute } from '../../plugins/pipe_transport/routing/route.js'
import { MAX_TIMEOUT_SECONDS } from '../../plugins/pipe_transport/settings/instance.js'
import { formatProblem } from '../../plugins/pipe_transport/settings/problems.js'
import type { RawSection } from '../../plugins/pipe_transport/settings/section-reader.js'
import { readSettings } from '../../plugins/pipe_transport/settings/settings.js'
import type { Settings } from '../../plugins/pipe_transport/settings/vocabulary.js'

type RawIni = Readonly<Record<string, RawSection | undefined>>

const context = { installDir: '/srv/haraka', haraka: { root: false, account: undefined } }

function settings(raw: RawIni, ctx = context): Settings {
  const read = readSettings(iniFromSections(raw), ctx)
  if ('errors' in read) throw new Error(read.errors.map((e) => formatProblem('f.ini', e)).join('\n'))
  return read.settings
}

function errors(raw: RawIni, ctx = context): string[] {
  const read = readSettings(iniFromSections(raw), ctx)
  return 'errors' in read ? read.errors.map((e) => formatProblem('f.ini', e)) : []
}

describe('settings', () => {
  it('applies defaults and resolves relative paths against the install dir', () => {
    const [one] = settings({
      main: {},
      one: { program_name: '/bin/cat', domain: 'A.test b.test,c.test', output_file: 'log/out' },
    }).instances
    assert.equal(one?.program, '/bin/cat')
    assert.deepEqual(one?.domains, ['a.test', 'b.test', 'c.test'])
    assert.equal(one?.outputFile, '/srv/haraka/log/out')
    assert.equal(one?.errorFile, '/dev/null')
    assert.equal(one?.directory, '/')
    assert.equal(one?.timeoutSeconds, 60)
    assert.equal(one?.maxConcurrency, 10)
    assert.deepEqual(one?.arguments, [])
  })

  it('inherits [main], [main.code] and [main.env], with the instance winning', () => {
    const { instances } = settings({
      main: { program_name: '/bin/cat', timeout: 30 },
      'main.code': { 0: '250 main ok', 1: '450 main later' },
      'main.env': { A: 'main', B: 'main' },
      one: { domain: 'one.test', timeout: 5 },
      'one.code': { 1: '550 one no' },
      'one.env': { B: 1 },
      two: { domain: 'two.test' },
    })
    const [one, two] = instances
    assert.equal(one?.timeoutSeconds, 5)
    assert.equal(two?.timeoutSeconds, 30)
    assert.equal(two?.program, '/bin/cat')
    assert.deepEqual(one?.exitCodes.entries.get(1), { verdict: 'deny', text: 'one no' })
    assert.deepEqual(one?.exitCodes.entries.get(0), { verdict: 'ok', text: 'main ok' })
    assert.deepEqual(two?.exitCodes.entries.get(1), { verdict: 'denysoft', text: 'main later' })
    assert.deepEqual(one?.env, {
      PATH: [{ literal: '/usr/local/bin:/usr/bin:/bin' }],
      A: [{ literal: 'main' }],
      B: [{ literal: '1' }],
    })
  })

  it('routes each domain to its instance', () => {
    const { routes } = settings({ main: {}, one: { program_name: '/bin/cat', domain: ['one.test', 'uno.test'] } })
    assert.equal(lookupRoute(routes, { local: 'x', user: 'x', domain: 'UNO.test' })?.instance.name, 'one')
    assert.equal(lookupRoute(routes, { local: 'x', user: 'x', domain: 'two.test' }), undefined)
  })

  it('bounds timeout and max_concurrency', () => {
    const base = { main: {}, one: { program_name: '/bin/cat', domain: 'one.test' } }
    assert.deepEqual(errors({ ...base, one: { ...base.one, timeout: MAX_TIMEOUT_SECONDS + 1 } }), [
      `f.ini [one] timeout: "${MAX_TIMEOUT_SECONDS + 1}" must be a whole number from 1 to ${MAX_TIMEOUT_SECONDS}`,
    ])
    assert.deepEqual(errors({ ...base, main: { timeout: 1.5 } }), [
      `f.ini [main] timeout: "1.5" must be a whole number from 1 to ${MAX_TIMEOUT_SECONDS}`,
    ])
    assert.deepEqual(errors({ ...base, one: { ...base.one, max_concurrency: 0 } }), [
      'f.ini [one] max_concurrency: "0" must be a whole number from 1 to 10000',
    ])
  })

  it('refuses user and group unless Haraka runs as root, and root itself', () => {
    const base = { main: {}, one: { program_name: '/bin/cat', domain: 'one.test', user: 'nobody' } }
    assert.deepEqual(errors(base), [
      'f.ini [one] user: needs Haraka to run as root and stay root (no user in smtp.ini)',
    ])
    const root = { ...context, haraka: { root: true, account: undefined } }
    assert.deepEqual(errors({ ...base, one: { ...base.one, user: 'root' } }, root), [
      'f.ini [one] user: programs never run as root (uid 0)',
      'f.ini [one] user: programs never run with group root (gid 0)',
    ])
    assert.deepEqual(errors({ ...base, one: { ...base.one, user: 'no-such-user-here' } }, root), [
      'f.ini [one] user: no such user "no-such-user-here"',
    ])
    const [one] = settings(base, root).instances
    assert.equal(one?.uid, 65534)
  })

  it('keeps transaction variables out of [NAME.env]', () => {
    assert.deepEqual(
      errors({
        main: {},
        one: { program_name: '/bin/cat', domain: 'one.test' },
        'one.env': { SENDER: 'x', 'BAD-NAME': 'y' },
      }),
      [
        'f.ini [one.env] SENDER: is set by pipe_transport from the transaction and cannot be configured',
        'f.ini [one.env] BAD-NAME: is not a valid environment variable name',
      ],
    )
  })

  it('reports a [main] problem once, however many instances inherit it', () => {
    assert.deepEqual(
      errors({
        main: { program_name: '/bin/cat' },
        'main.code': { x: '250 ok' },
        a: { domain: 'a.test' },
        b: { domain: 'b.test' },
      }),
      ['f.ini [main.code] x: must be an exit status from 0 to 255, or "default"'],
    )
  })

  it('refuses an unknown subsection and one whose instance is missing', () => {
    assert.deepEqual(errors({ main: {}, 'ghost.code': { 0: '250 ok' }, 'a.b.c': {} }), [
      'f.ini [ghost.code]: there is no instance [ghost] for this section',
      'f.ini [a.b.c]: unknown section; use [NAME] for an instance, [NAME.code], [NAME.env], [NAME.address] or [NAME.check_codes] beside it',
    ])
  })

  it('refuses spawn_helpers, which earlier versions took, saying why and what to do', () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    const why =
      'is no longer used: programs start with posix_spawn in Haraka itself, which needs no helper processes; remove this line'
    assert.deepEqual(errors({ main: { spawn_helpers: 2 }, one }), [`f.ini [main] spawn_helpers: ${why}`])
    assert.deepEqual(errors({ main: {}, one: { ...one, spawn_helpers: 0 } }), [`f.ini [one] spawn_helpers: ${why}`])
  })

  it('suggests the known name nearest to an unknown key or section', () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    const found = errors({
      main: { Timeout: 5, max_concurency: 3 },
      one: { ...one, argument: 'x', tiemout: 1, frobnicate: 1 },
    })
    assert.deepEqual(found.slice(0, 4), [
      'f.ini [main] Timeout: unknown key; did you mean "timeout"?',
      'f.ini [main] max_concurency: unknown key; did you mean "max_concurrency"?',
      'f.ini [one] argument: unknown key; did you mean "arguments"?',
      'f.ini [one] tiemout: unknown key; did you mean "timeout"?',
    ])
    assert.match(
      found[4] ?? '',
      /^f\.ini \[one\] frobnicate: unknown key; known keys here: program_name, arguments, domain, .*, check_recipient/,
    )
    assert.equal(found.length, 5)
    assert.deepEqual(errors({ main: {}, one, 'one.evn': {}, 'onw.code': {}, 'mian.env': {}, 'zzz.code': {} }), [
      'f.ini [one.evn]: unknown section; did you mean [one.env]?',
      'f.ini [onw.code]: there is no instance [onw] for this section; did you mean [one.code]?',
      'f.ini [mian.env]: there is no instance [mian] for this section; did you mean [main.env]?',
      'f.ini [zzz.code]: there is no instance [zzz] for this section',
    ])
  })

  it('refuses a key written without "= value", which haraka-config keeps with no value at all', () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    assert.deepEqual(
      errors({
        main: { timeout: undefined },
        one,
        'one.env': { EMPTY: '', NONE: undefined },
        'one.code': { 75: undefined },
      }),
      [
        'f.ini [main] timeout: has no value; write "timeout = ..."',
        'f.ini [one.env] NONE: has no value; write "NONE = ..." ("NONE =" sets it empty)',
        'f.ini [one.code] 75: has no reply; write it as in "75 = 450 4.3.0 try again later"',
      ],
    )
    assert.deepEqual(settings({ main: {}, one, 'one.env': { EMPTY: '' } }).instances[0]?.env, {
      PATH: [{ literal: '/usr/local/bin:/usr/bin:/bin' }],
      EMPTY: [],
    })
  })

  it("refuses a failure reply without text, which would give Haraka's own words", () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    assert.deepEqual(errors({ main: {}, one, 'one.code': { 75: 450, 1: '550', default: 451, 2: 250 } }), [
      'f.ini [one.code] 1: "550" has no text, so the client would get Haraka\'s "550 Message denied"; write one, as in "550 5.3.0 delivery failed"',
      'f.ini [one.code] 75: "450" has no text, so the client would get Haraka\'s "450 Message denied temporarily"; write one, as in "450 4.3.0 try again later"',
      'f.ini [one.code] default: "451" has no text, so the client would get Haraka\'s "450 Message denied temporarily"; write one, as in "451 4.3.0 try again later"',
    ])
  })

  it('warns, without refusing, when exit status 0 is answered with a failure', () => {
    const read = readSettings(
      iniFromSections({
        main: {},
        one: { program_name: '/bin/cat', domain: 'one.test' },
        'one.code': { 0: '450 4.3.0 not yet' },
      }),
      context,
    )
    assert.ok('settings' in read)
    assert.deepEqual(
      read.warnings.map((w) => formatProblem('f.ini', w)),
      [
        'f.ini [one.code] 0: "450 4.3.0 not yet" answers a program that succeeded with a failure: the sender retries a message the program may have delivered',
      ],
    )
    const bounced = readSettings(
      iniFromSections({
        main: {},
        'main.code': { 0: '550 5.0.0 no' },
        a: { program_name: '/bin/cat', domain: 'a.test' },
        b: { program_name: '/bin/cat', domain: 'b.test' },
      }),
      context,
    )
    assert.deepEqual(
      bounced.warnings.map((w) => formatProblem('f.ini', w)),
      [
        'f.ini [main.code] 0: "550 5.0.0 no" answers a program that succeeded with a failure: the sender bounces a message the program may have delivered',
      ],
    )
  })

  it('reads [NAME.address] entries with their route data, lower-cased, beside or instead of domain', () => {
    const { instances, routes, addressCounts } = settings({
      main: { program_name: '/bin/cat' },
      rt: {},
      'rt.address': {
        'Support@Example.com': 'general',
        'billing@example.com': ' billing ',
        'bare@example.com': undefined,
        '@rt.example.com': 7,
      },
      lists: { domain: 'lists.example.com' },
    })
    const route = (local: string, domain: string): [string | undefined, string | undefined] => {
      const found = lookupRoute(routes, { local, user: local, domain })
      return [found?.instance.name, found?.data]
    }
    assert.deepEqual(route('SUPPORT', 'example.COM'), ['rt', 'general'])
    assert.deepEqual(route('billing', 'example.com'), ['rt', 'billing'])
    assert.deepEqual(route('bare', 'example.com'), ['rt', ''])
    assert.equal(instances[0] && addressCounts.get(instances[0]), 4)
    assert.deepEqual(instances[0]?.domains, [])
    assert.deepEqual(route('x', 'rt.example.com'), ['rt', '7'])
  })

  it('refuses bad address entries, and an instance with neither domain nor addresses', () => {
    assert.deepEqual(
      errors({
        main: { program_name: '/bin/cat' },
        rt: {},
        'rt.address': { 'no-at-sign': 'x', 'a@-bad-.test': '', 'a@b.test': '-x', 'A@b.test': 'y' },
        empty: {},
      }),
      [
        'f.ini [rt.address] no-at-sign: must be an address (local@domain) or @domain',
        'f.ini [rt.address] a@-bad-.test: must be an address (local@domain) or @domain',
        'f.ini [rt.address] a@b.test: route data "-x" must not start with "-"',
        'f.ini [rt.address] A@b.test: a@b.test is listed twice',
        'f.ini [empty] domain: is required, or a [empty.address] section: the recipients this instance delivers',
      ],
    )
    assert.deepEqual(
      errors({ main: { program_name: '/bin/cat' }, 'main.address': { 'a@b.test': '' }, one: { domain: 'one.test' } }),
      ['f.ini [main.address]: addresses are routed by an instance: use [NAME.address] beside [NAME]'],
    )
  })

  it('names both instances when two route the same address, or @domain beside domain', () => {
    assert.deepEqual(
      errors({
        main: { program_name: '/bin/cat' },
        a: { domain: 'a.test' },
        'a.address': { 'x@shared.test': '', '@b.test': '' },
        b: { domain: 'b.test' },
        'b.address': { 'x@shared.test': '', '@a.test': '' },
      }),
      [
        'f.ini [a.address] @b.test: is already routed by [b]',
        'f.ini [b.address] x@shared.test: is already routed by [a]',
        'f.ini [b.address] @a.test: is already routed by [a]',
      ],
    )
    // In one instance, @domain beside domain is redundant, not a conflict.
    assert.deepEqual(
      errors({ main: { program_name: '/bin/cat' }, a: { domain: 'a.test' }, 'a.address': { '@a.test': '' } }),
      [],
    )
  })

  it('reads [unrouted] addresses, without values, and never one that an instance routes', () => {
    const { routes } = settings({
      main: { program_name: '/bin/cat' },
      lists: { domain: 'lists.test' },
      unrouted: { 'Postmaster@lists.test': undefined, 'abuse@': '' },
    })
    assert.equal(lookupRoute(routes, { local: 'postmaster', user: 'postmaster', domain: 'lists.test' }), undefined)
    assert.equal(lookupRoute(routes, { local: 'abuse', user: 'abuse', domain: 'lists.test' }), undefined)
    assert.equal(lookupRoute(routes, { local: 'owner', user: 'owner', domain: 'lists.test' })?.instance.name, 'lists')
    assert.deepEqual(
      errors({
        main: { program_name: '/bin/cat' },
        rt: {},
        'rt.address': { 'x@a.test': '' },
        unrouted: { 'x@a.test': undefined, '@a.test': undefined, 'y@a.test': 'v' },
        'unrouted.code': {},
      }),
      [
        'f.ini [unrouted.code]: unknown section; use [NAME] for an instance, [NAME.code], [NAME.env], [NAME.address] or [NAME.check_codes] beside it',
        'f.ini [unrouted] x@a.test: is routed by [rt] in [rt.address]',
        'f.ini [unrouted] @a.test: must be an address (local@domain) or local@ for that local part in every domain',
        'f.ini [unrouted] y@a.test: takes no value: list the address alone',
      ],
    )
  })

  it('reads recipient_delimiter from [main]; x_original_to needs recipient_limit = 1', () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    assert.equal(settings({ main: {}, one }).recipientDelimiter, undefined)
    assert.equal(settings({ main: { recipient_delimiter: '+-' }, one }).recipientDelimiter, '+-')
    assert.deepEqual(errors({ main: { recipient_delimiter: 'a@' }, one }), [
      'f.ini [main] recipient_delimiter: "a@" must be one or more characters other than white space, @, comma, " and \\, e.g. + or +-',
    ])
    // `recipient_delimiter[] = +` and `recipient_delimiter[] = -` lines: a list, where the delimiters are one value.
    assert.deepEqual(errors({ main: { recipient_delimiter: ['+', '-'] }, one }), [
      'f.ini [main] recipient_delimiter: must be a single value',
    ])
    assert.deepEqual(errors({ main: { recipient_delimiter: '+,-' }, one }), [
      'f.ini [main] recipient_delimiter: "+,-" must be one or more characters other than white space, @, comma, " and \\, e.g. + or +-',
    ])
    assert.deepEqual(errors({ main: {}, one: { ...one, x_original_to: 'true' } }), [
      'f.ini [one] x_original_to: needs recipient_limit = 1: a message can name only one X-Original-To recipient',
    ])
  })

  it('reads macros in [NAME.env] values, and reports an unknown one', () => {
    const [one] = settings({
      main: {},
      one: { program_name: '/bin/cat', domain: 'one.test' },
      'one.env': { USER_ADDR: '${user}@${domain}' },
    }).instances
    assert.deepEqual(one?.env['USER_ADDR'], [{ macro: 'user' }, { literal: '@' }, { macro: 'domain' }])
    assert.match(
      errors({ main: {}, one: { program_name: '/bin/cat', domain: 'one.test' }, 'one.env': { X: '${usr}' } })[0] ?? '',
      /^f\.ini \[one\.env\] X: unknown macro \$\{usr\}/,
    )
  })

  it('reads the journal keys of [main], naming what is allowed', () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    assert.deepEqual(settings({ main: {}, one }).journal, {
      store: 'local',
      directory: '/srv/haraka/pipe_transport-journal',
      retentionDays: 7,
      unavailable: 'deliver',
    })
    assert.deepEqual(
      settings({
        main: {
          journal: 'redis://127.0.0.1:6379/2',
          journal_days: 10,
          journal_unavailable: 'defer',
          journal_directory: '/var/lib/j',
        },
        one,
      }).journal,
      {
        store: 'redis://127.0.0.1:6379/2',
        directory: '/var/lib/j',
        retentionDays: 10,
        unavailable: 'defer',
      },
    )
    for (const store of ['redis://', 'rediss:///2']) {
      assert.deepEqual(errors({ main: { journal: store }, one }), [
        `f.ini [main] journal: "${store}" names no host: write redis://HOST:PORT/DB (redis://127.0.0.1:6379/0 for a Redis on this host)`,
      ])
    }
    assert.deepEqual(errors({ main: { journal: 'lmdb', journal_days: 0, journal_unavailable: 'maybe' }, one }), [
      'f.ini [main] journal: "lmdb" must be local, off or redis://HOST:PORT/DB',
      'f.ini [main] journal_days: "0" must be a whole number from 1 to 365',
      'f.ini [main] journal_unavailable: "maybe" must be one of: deliver, defer',
    ])
    assert.match(
      errors({ main: {}, one: { ...one, journal: 'off' } })[0] ?? '',
      /^f\.ini \[one\] journal: belongs in \[main\]/,
    )
  })

  it("refuses arguments and [NAME.env] that cannot fit Linux's limits, with room for each recipient", () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    const space = argumentSpace()
    assert.equal(space.bytes, 2 * 1024 * 1024, 'the usual 8 MiB stack limit here')
    // One word of 3 MB: more than any one argument may be.
    assert.deepEqual(errors({ main: {}, one: { ...one, arguments: 'x'.repeat(3_000_000) } }), [
      'f.ini [one] arguments: a word of 3000001 bytes is longer than the 131072 bytes Linux allows one argument',
    ])
    // 3 MB of short words: more than all of them together may be.
    assert.deepEqual(errors({ main: {}, one: { ...one, arguments: 'xxx '.repeat(750_000) } }), [
      `f.ini [one] arguments: the program's arguments (${17 + 750_000 * 12} bytes) and environment (4439 bytes) need more than the 2097152 bytes Linux allows them (a quarter of the stack limit, 8388608 bytes, within 128 KiB to 6 MiB; macros counted at 256 bytes each); shorten them`,
    ])
    assert.deepEqual(errors({ main: {}, one, 'one.env': { BIG: 'y'.repeat(200_000) } }), [
      'f.ini [one.env] BIG: "BIG=" and its value take 200005 bytes, more than the 131072 bytes Linux allows one variable',
    ])
    // A word per recipient, 100 KB each: fits one recipient, not 30 (recipient_limit).
    const perRecipient = { ...one, arguments: `${'z'.repeat(100_000)}\${recipient}` }
    assert.deepEqual(errors({ main: {}, one: perRecipient }), [])
    assert.deepEqual(errors({ main: {}, one: { ...perRecipient, recipient_limit: 30 } }), [
      `f.ini [one] arguments: the program's arguments (${17 + 30 * (100_000 + 256 + 1 + 8)} bytes for 30 recipients) and environment (4439 bytes) need more than the 2097152 bytes Linux allows them (a quarter of the stack limit, 8388608 bytes, within 128 KiB to 6 MiB; macros counted at 256 bytes each); shorten them, or lower recipient_limit`,
    ])
  })

  it("reads Linux's limit for argv and environment from the stack limit", () => {
    const limits = (soft: string): string =>
      `Max stack size            ${soft}              unlimited            bytes\n`
    assert.deepEqual(argumentSpace(limits('8388608')), { bytes: 2097152, stack: '8388608 bytes' })
    assert.deepEqual(argumentSpace(limits('unlimited')), { bytes: 6 * 1024 * 1024, stack: 'unlimited' })
    assert.deepEqual(argumentSpace(limits('65536')), { bytes: 131072, stack: '65536 bytes' })
    assert.deepEqual(argumentSpace(''), { bytes: 2097152, stack: 'unknown, taken as 8 MiB' })
  })

  it('reads check_program with its arguments, timeout and cache, and its keys only with it', () => {
    const [one] = settings({
      main: {},
      one: {
        program_name: '/bin/cat',
        domain: 'one.test',
        check_program: '/bin/true',
        check_arguments: 'user ${user}',
        check_timeout: 3,
      },
    }).instances
    assert.deepEqual(one?.checkProgram, {
      program: '/bin/true',
      arguments: [[{ literal: 'user' }], [{ macro: 'user' }]],
      timeoutSeconds: 3,
      cacheSeconds: 60,
      codes: new Map([
        [0, 'accept'],
        [2, 'refuse'],
        [67, 'refuse'],
      ]),
    })
    assert.deepEqual(
      errors({ main: {}, one: { program_name: '/bin/cat', domain: 'one.test', check_timeout: 3, check_program: '' } }),
      ['f.ini [one] check_timeout: needs check_program'],
    )
    assert.deepEqual(
      errors({
        main: {},
        one: { program_name: '/bin/cat', domain: 'one.test', check_program: '/no/such', check_cache: 4000 },
      }),
      [
        'f.ini [one] check_program: /no/such does not exist',
        'f.ini [one] check_cache: "4000" must be a whole number from 0 to 3600',
      ],
    )
  })

  it('reads the circuit breaker: on by default, each key inherited from [main], and checked', () => {
    const { instances } = settings({
      main: { program_name: '/bin/cat', circuit_breaker_wait: 10 },
      one: { domain: 'one.test' },
      two: { domain: 'two.test', circuit_breaker_failures: 2, circuit_breaker_scope: 'route_data' },
      three: { domain: 'three.test', circuit_breaker: 'false' },
      four: { domain: 'four.test', circuit_breaker_wait: 600 },
    })
    assert.deepEqual(
      instances.map((instance) => instance.circuitBreaker),
      [
        { failures: 5, waitSeconds: 10, maxWaitSeconds: 300, scope: 'instance' },
        { failures: 2, waitSeconds: 10, maxWaitSeconds: 300, scope: 'route_data' },
        undefined,
        { failures: 5, waitSeconds: 600, maxWaitSeconds: 600, scope: 'instance' },
      ],
    )
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    assert.deepEqual(
      errors({
        main: { circuit_breaker: 'maybe' },
        one: { ...one, circuit_breaker_failures: 0, circuit_breaker_wait: 60, circuit_breaker_max_wait: 30 },
        two: { ...one, domain: 'two.test', circuit_breaker_scope: 'address' },
      }),
      [
        'f.ini [main] circuit_breaker: "maybe" must be true or false',
        'f.ini [one] circuit_breaker_failures: "0" must be a whole number from 1 to 1000',
        'f.ini [one] circuit_breaker_max_wait: 30 is less than circuit_breaker_wait (60)',
        'f.ini [two] circuit_breaker_scope: "address" must be one of: instance, route_data',
      ],
    )
    const read = readSettings(
      iniFromSections({
        main: { circuit_breaker_failures: 3 },
        one: { ...one, circuit_breaker: 'off', circuit_breaker_wait: 5 },
      }),
      context,
    )
    assert.deepEqual(
      read.warnings.map((warning) => formatProblem('f.ini', warning)),
      ['f.ini [one] circuit_breaker_wait: has no effect: circuit_breaker = false'],
    )
  })

  it('reads metrics_listen from [main] only, as HOST:PORT', () => {
    const one = { program_name: '/bin/cat', domain: 'one.test' }
    assert.equal(settings({ main: {}, one }).metricsListen, undefined)
    assert.deepEqual(settings({ main: { metrics_listen: '127.0.0.1:9464' }, one }).metricsListen, {
      host: '127.0.0.1',
      port: 9464,
    })
    assert.deepEqual(settings({ main: { metrics_listen: '[::1]:9464' }, one }).metricsListen, {
      host: '::1',
      port: 9464,
    })
    assert.deepEqual(settings({ main: { metrics_listen: 'localhost:80' }, one }).metricsListen, {
      host: 'localhost',
      port: 80,
    })
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:70000', '[nothost]:1', '::1:9464'])
      assert.deepEqual(errors({ main: { metrics_listen: bad }, one }), [
        `f.ini [main] metrics_listen: "${bad}" must be HOST:PORT, e.g. 127.0.0.1:9464 (an IPv6 address in brackets: [::1]:9464)`,
      ])
    assert.match(
      errors({ main: {}, one: { ...one, metrics_listen: '127.0.0.1:9464' } })[0] ?? '',
      /^f\.ini \[one\] metrics_listen: belongs in \[main\]/,
    )
  })
})

describe('settings for real programs and real addresses', () => {
  const one = { program_name: '/bin/cat', domain: 'one.test' }
  const route = (settingsRead: Settings, address: string): string | undefined => {
    const at = address.lastIndexOf('@')
    const local = address.slice(0, at)
    const found = lookupRoute(settingsRead.routes, { local, user: local, domain: address.slice(at + 1) })
    return found && `${found.instance.name}${found.data === '' ? '' : ` ${found.data}`}`
  }

  it('compares domains as A-labels: either form routes, either form may be written', () => {
    const read = settings({
      main: {},
      shop: { program_name: '/bin/cat', domain: 'Bücher.example, *.xn--mller-kva.example' },
      help: { program_name: '/bin/cat' },
      'help.address': { 'kundendienst@xn--caf-dma.example': 'de', 'Grüße@café.example': 'greetings' },
    })
    assert.deepEqual(read.instances[0]?.domains, ['xn--bcher-kva.example', '*.xn--mller-kva.example'])
    assert.equal(route(read, 'anyone@bücher.example'), 'shop')
    assert.equal(route(read, 'anyone@XN--BCHER-KVA.example'), 'shop')
    assert.equal(route(read, 'anyone@shop.müller.example'), 'shop')
    assert.equal(route(read, 'kundendienst@café.example'), 'help de')
    assert.equal(route(read, 'grüße@xn--caf-dma.example'), 'help greetings')
    assert.equal(route(read, 'GRÜSSE@café.example'), undefined)
    assert.deepEqual(
      errors({
        main: {},
        one: { program_name: '/bin/cat', domain: 'bücher.example xn--bcher-kva.example bad..example' },
      }),
      [
        'f.ini [one] domain: "bad..example" is not a domain, "*.domain" or "*"',
        'f.ini [one] domain: xn--bcher-kva.example is listed twice',
      ],
    )
    assert.deepEqual(
      errors({
        main: {},
        a: { program_name: '/bin/cat', domain: 'bücher.example' },
        b: { program_name: '/bin/cat' },
        'b.address': { '@xn--bcher-kva.example': '' },
      }),
      [
        'f.ini [b.address] @xn--bcher-kva.example: is already routed by [a]',
        'f.ini [b] domain: is required, or a [b.address] section: the recipients this instance delivers',
      ],
    )
  })

  it('gives check_program its own table: 0 accepts, 2 and 67 refuse, [NAME.check_codes] over [main.check_codes]', () => {
    const checked = { ...one, check_program: '/bin/true' }
    const [a, b] = settings({
      main: {},
      'main.check_codes': { 1: 'refuse', 2: 'defer' },
      a: checked,
      'a.check_codes': { 1: 'accept', 9: 'Refuse' },
      b: { ...checked, domain: 'b.test' },
    }).instances
    assert.deepEqual(
      [...(a?.checkProgram?.codes ?? [])],
      [
        [0, 'accept'],
        [2, 'defer'],
        [67, 'refuse'],
        [1, 'accept'],
        [9, 'refuse'],
      ],
    )
    assert.deepEqual(
      [...(b?.checkProgram?.codes ?? [])],
      [
        [0, 'accept'],
        [2, 'defer'],
        [67, 'refuse'],
        [1, 'refuse'],
      ],
    )
    assert.deepEqual(errors({ main: {}, a: checked, 'a.check_codes': { 256: 'refuse', x: 'accept', 3: 'no' } }), [
      'f.ini [a.check_codes] 3: "no" must be accept (the recipient exists), refuse (550 5.1.1) or defer (450 4.3.0)',
      'f.ini [a.check_codes] 256: must be an exit status from 0 to 255',
      'f.ini [a.check_codes] x: must be an exit status from 0 to 255',
    ])
    assert.deepEqual(errors({ main: {}, a: one, 'a.check_codes': { 2: 'refuse' } }), [
      'f.ini [a.check_codes]: needs check_program',
    ])
  })

  it('gives programs HOME, LOGNAME and SHELL of the user they run as, which [NAME.env] may replace', () => {
    const haraka = { name: 'haraka', uid: 990, gid: 990, home: '/var/lib/haraka', shell: '/usr/sbin/nologin' }
    const read = readSettings(
      iniFromSections({ main: {}, a: one, b: { ...one, domain: 'b.test' }, 'b.env': { HOME: '/srv/b' } }),
      { ...context, haraka: { root: false, account: haraka } },
    )
    assert.ok('settings' in read)
    const [a, b] = read.settings.instances
    assert.deepEqual(a?.env, {
      PATH: [{ literal: '/usr/local/bin:/usr/bin:/bin' }],
      HOME: [{ literal: '/var/lib/haraka' }],
      LOGNAME: [{ literal: 'haraka' }],
      SHELL: [{ literal: '/usr/sbin/nologin' }],
    })
    assert.deepEqual(b?.env['HOME'], [{ literal: '/srv/b' }])
    assert.deepEqual(read.warnings, [])
  })

  it('warns for every instance whose programs run as root, and takes user from [main] for those without one', () => {
    const root = { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash' }
    const asRoot = { ...context, haraka: { root: true, account: root } }
    const read = readSettings(
      iniFromSections({ main: {}, a: one, b: { ...one, domain: 'b.test', user: 'nobody' } }),
      asRoot,
    )
    assert.ok('settings' in read)
    assert.deepEqual(
      read.warnings.map((w) => formatProblem('f.ini', w)),
      [
        "f.ini [a]: programs run as root: Haraka delivers as root and this instance sets no user; set user (here, or in [main] for every instance) to an account of the program's own, as Postfix's pipe(8) requires",
      ],
    )
    const [a, b] = read.settings.instances
    assert.deepEqual([a?.runsAsRoot, a?.uid, a?.env['HOME']], [true, undefined, [{ literal: '/root' }]])
    assert.deepEqual(
      [b?.runsAsRoot, b?.uid, b?.account?.name, b?.env['HOME']],
      [false, 65534, 'nobody', [{ literal: '/nonexistent' }]],
    )
    const fromMain = readSettings(iniFromSections({ main: { user: 'nobody' }, a: one }), asRoot)
    assert.ok('settings' in fromMain)
    assert.deepEqual(fromMain.warnings, [])
    assert.equal(fromMain.settings.instances[0]?.uid, 65534)
  })
})

describe('errors that say what happened', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-transport-unit-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const script = (name: string, firstLine: string): string => {
    const path = join(dir, name)
    writeFileSync(path, `${firstLine}\nexit 0\n`, { mode: 0o755 })
    return path
  }
  const instanceErrors = (keys: RawSection, env: RawSection = {}): string[] =>
    errors({ main: {}, one: { domain: 'one.test', ...keys }, 'one.env': env })

  it('names a missing #! interpreter, and a name #!/usr/bin/env cannot find on the PATH programs get', () => {
    const perl = script('perl-script', '#!/usr/bin/perl5.99 -w')
    const envRuby = script('env-script', '#!/usr/bin/env no-such-ruby')
    const envSh = script('sh-script', '#!/usr/bin/env sh')
    assert.deepEqual(instanceErrors({ program_name: perl }), [
      `f.ini [one] program_name: ${perl} starts with "#!/usr/bin/perl5.99 -w", and its interpreter /usr/bin/perl5.99 does not exist: the program cannot start`,
    ])
    assert.deepEqual(instanceErrors({ program_name: envSh, check_program: envRuby }), [
      `f.ini [one] check_program: ${envRuby} starts with "#!/usr/bin/env no-such-ruby", and no-such-ruby is not on the program's PATH /usr/local/bin:/usr/bin:/bin: the program cannot start`,
    ])
    assert.deepEqual(instanceErrors({ program_name: envRuby }, { PATH: dir }), [
      `f.ini [one] program_name: ${envRuby} starts with "#!/usr/bin/env no-such-ruby", and no-such-ruby is not on the program's PATH ${dir}: the program cannot start`,
    ])
  })

  it('says where arguments go, and which file on PATH was meant', () => {
    // Where a shell finds them here, as the error does.
    const [cat, getent] = ['cat', 'getent'].map((name) =>
      execFileSync('sh', ['-c', `command -v ${name}`])
        .toString()
        .trim(),
    )
    assert.deepEqual(instanceErrors({ program_name: '/bin/echo --queue x' }), [
      'f.ini [one] program_name: "/bin/echo --queue x" holds arguments: program_name names the file alone, and the arguments go in arguments: write "program_name = /bin/echo" and "arguments = --queue x"',
    ])
    assert.deepEqual(instanceErrors({ program_name: 'cat' }), [
      `f.ini [one] program_name: /srv/haraka/cat does not exist, and PATH is not searched: for ${cat}, write "program_name = ${cat}"`,
    ])
    assert.deepEqual(instanceErrors({ program_name: '/bin/true', check_program: 'getent passwd ${user}' }), [
      `f.ini [one] check_program: "getent passwd \${user}" holds arguments: check_program names the file alone, and the arguments go in check_arguments: write "check_program = ${getent}" and "check_arguments = passwd \${user}"`,
    ])
    assert.deepEqual(instanceErrors({ program_name: 'no-such-program-here' }), [
      'f.ini [one] program_name: /srv/haraka/no-such-program-here does not exist: a name without "/" is taken in the Haraka install dir, and PATH is not searched; give the program\'s absolute path',
    ])
  })

  it('points $name and ${nexthop} to the macro meant', () => {
    assert.deepEqual(instanceErrors({ program_name: '/bin/cat', arguments: '--queue $route_data -u $USER' }), [
      'f.ini [one] arguments: "$route_data" is not expanded: no shell runs the program, and macros are written in braces; write ${route_data}',
    ])
    assert.deepEqual(instanceErrors({ program_name: '/bin/cat' }, { TO: '$RECIPIENT' }), [
      'f.ini [one.env] TO: "$RECIPIENT" is not expanded: no shell runs the program, and macros are written in braces; write ${recipient}',
    ])
    assert.deepEqual(instanceErrors({ program_name: '/bin/cat', arguments: '-L /var/spool/mlmmj/${nexthop}/' }), [
      "f.ini [one] arguments: unknown macro ${nexthop}: Postfix's next hop is ${route_data} here, the value of the [NAME.address] entry (for a domain entry Postfix's next hop is the domain: ${domain})",
    ])
    assert.deepEqual(instanceErrors({ program_name: '/bin/cat', arguments: '${USER} ${Domain}' }), [
      'f.ini [one] arguments: unknown macro ${USER}; did you mean ${user}?',
    ])
    // Other $ words may be meant for the program: Ruby's $stdin, a shell's $1.
    assert.deepEqual(instanceErrors({ program_name: '/bin/cat', arguments: 'r "p $stdin.read" $1 $HOME' }), [])
  })
})

describe('the config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-transport-unit-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const ctx = { installDir: dir, haraka: { root: false, account: undefined } }

  const grammar = harakaConfigGrammar(require)

  it('is missing: a warning, and nothing is routed', () => {
    const loaded = checkConfigFile(join(dir, 'missing.ini'), null, grammar, ctx)
    assert.deepEqual(loaded.errors, [])
    assert.deepEqual(loaded.warnings, [
      `${dir}/missing.ini is missing, so pipe_transport routes nothing; write it (see docs/configuration.md)`,
    ])
    assert.deepEqual(loaded.settings?.instances, [])
  })

  it('has problems in its text and in its settings: all are errors, and no settings', () => {
    const file = join(dir, 'both.ini')
    const text =
      '[one]\nprogram_name = /bin/cat\ndomain = one.test\ntimeout = 5\ntimeout = 6\n*.x.test = 1\n[one.code]\n0 = 450 4.0.0 x\n'
    writeFileSync(file, text)
    const loaded = checkConfigFile(file, Buffer.from(text), grammar, ctx)
    assert.equal(loaded.settings, undefined)
    assert.deepEqual(loaded.errors, [
      `${file} [one] timeout: is set on lines 4 and 5: haraka-config keeps only the last; write it once`,
      `${file} [one] *.x.test: line 6 is dropped by haraka-config: a key cannot hold "*" (only letters, digits and _ @ : . + - / [ ])`,
    ])
    assert.equal(loaded.warnings.length, 1)
  })

  it('holds no instance: a warning that nothing is routed', () => {
    for (const [name, text] of [
      ['empty.ini', ''],
      ['main-only.ini', '[main]\ntimeout = 5\n'],
    ] as const) {
      const file = join(dir, name)
      writeFileSync(file, text)
      const loaded = checkConfigFile(file, Buffer.from(text), grammar, ctx)
      assert.deepEqual(loaded.errors, [])
      assert.deepEqual(loaded.warnings, [
        `${file} holds no instance, so pipe_transport routes nothing; add one (see docs/configuration.md)`,
      ])
      assert.deepEqual(loaded.settings?.instances, [])
    }
  })

  it('has a section line without its "]": that line is reported, not a key of the section before', () => {
    const file = join(dir, 'unclosed.ini')
    const text = '[one]\nprogram_name = /bin/cat\ndomain = one.test\n[broken\ntimeout = 5\n'
    writeFileSync(file, text)
    const loaded = checkConfigFile(file, Buffer.from(text), grammar, ctx)
    assert.deepEqual(loaded.errors, [
      `${file} [one]: line 4, "[broken", is not a section line: it has no closing "]", so haraka-config reads it as a key, and the keys after it as [one]'s; write [broken]`,
    ])
  })

  it('quotes a value as the file writes it, not as haraka-config turned it into a number', () => {
    const file = join(dir, 'numbers.ini')
    const text =
      '[one]\nprogram_name = /bin/cat\ndomain = one.test\ntimeout = 100000000000000000000000\nmax_concurrency = 1.50\nrecipient_limit = 007\n'
    writeFileSync(file, text)
    const loaded = checkConfigFile(file, Buffer.from(text), grammar, ctx)
    assert.deepEqual(loaded.errors, [
      `${file} [one] timeout: "100000000000000000000000" must be a whole number from 1 to ${MAX_TIMEOUT_SECONDS}`,
      `${file} [one] max_concurrency: "1.50" must be a whole number from 1 to 10000`,
    ])
  })

  it("warns when it holds a secret and an instance's user can read it", () => {
    const open = mkdtempSync(join(tmpdir(), 'pipe-transport-unit-'))
    try {
      chmodSync(open, 0o755)
      const file = join(open, 'secrets.ini')
      const text = [
        '[main]',
        'journal = redis://haraka:s3cret@127.0.0.1:6379/0',
        '[lists]',
        'program_name = /bin/cat',
        'domain = lists.test',
        'user = nobody',
        '[lists.env]',
        'API_TOKEN = abc123',
        'LIST_KEY = ${route_data}',
        'LANG = C.UTF-8',
        '[plain]',
        'program_name = /bin/cat',
        'domain = plain.test',
      ].join('\n')
      writeFileSync(file, text)
      const asRoot = { installDir: open, haraka: { root: true, account: undefined } }
      // [plain]'s programs run as root, which is warned of too (identity.ts); only the secrets are looked at here.
      const warnings = (): readonly string[] =>
        checkConfigFile(file, Buffer.from(text), grammar, asRoot).warnings.filter(
          (warning) => !warning.includes('programs run as root'),
        )
      chmodSync(file, 0o644)
      const owner = `owner uid ${process.getuid?.()}, gid ${process.getgid?.()}`
      assert.deepEqual(warnings(), [
        `${file} [main] journal: holds a Redis password, and the file can be read by user nobody ([lists]), whose programs could read it too (mode 0644, ${owner}); make it readable by root only (chmod 600)`,
        `${file} [lists.env] API_TOKEN: holds a secret (API_TOKEN), and the file can be read by user nobody ([lists]), whose programs could read it too (mode 0644, ${owner}); make it readable by root only (chmod 600)`,
      ])
      chmodSync(file, 0o600)
      assert.deepEqual(warnings(), [], 'readable by its owner only')
      chmodSync(file, 0o644)
      chmodSync(open, 0o700)
      assert.deepEqual(warnings(), [], 'in a directory nobody may enter')
    } finally {
      rmSync(open, { recursive: true, force: true })
    }
  })

  it('cannot be read: an error, where haraka-config gave nothing', () => {
    const file = join(dir, 'present.ini')
    writeFileSync(file, '')
    const loaded = checkConfigFile(file, null, grammar, ctx)
    assert.equal(loaded.settings, undefined)
    assert.deepEqual(loaded.errors, [`${file}: cannot be read by Haraka`])
  })
})
