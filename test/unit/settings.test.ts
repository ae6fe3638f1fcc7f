import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { checkConfigFile } from '../../plugins/pipe_transport/settings/config-file.js'
import { harakaConfigGrammar, iniFromSections } from '../../plugins/pipe_transport/settings/ini-text.js'
import { lookupRoute } from '../../plugins/pipe_transport/routing/route.js'
import { MAX_TIMEOUT_SECONDS } from '../../plugins/pipe_transport/settings/instance.js'
import { formatProblem } from '../../plugins/pipe_transport/settings/problems.js'
import type { RawSection } from '../../plugins/pipe_transport/settings/section-reader.js'
import { readSettings } from '../../plugins/pipe_transport/settings/settings.js'
import type { Settings } from '../../plugins/pipe_transport/settings/vocabulary.js'

type RawIni = Readonly<Record<string, RawSection | undefined>>

const context = { installDir: '/srv/haraka', runningAsRoot: false }

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
    assert.deepEqual(one?.env, { A: [{ literal: 'main' }], B: [{ literal: '1' }] })
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
    const root = { ...context, runningAsRoot: true }
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
      'f.ini [a.b.c]: unknown section; use [NAME] for an instance, [NAME.code], [NAME.env] or [NAME.address] beside it',
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
    assert.deepEqual(settings({ main: {}, one, 'one.env': { EMPTY: '' } }).instances[0]?.env, { EMPTY: [] })
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
        'f.ini [rt.address] no-at-sign: must be an address (local@domain) or @domain; internationalised domains in xn-- form',
        'f.ini [rt.address] a@-bad-.test: must be an address (local@domain) or @domain; internationalised domains in xn-- form',
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
        'f.ini [unrouted.code]: unknown section; use [NAME] for an instance, [NAME.code], [NAME.env] or [NAME.address] beside it',
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

describe('the config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-transport-unit-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const ctx = { installDir: dir, runningAsRoot: false }

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

  it('cannot be read: an error, where haraka-config gave nothing', () => {
    const file = join(dir, 'present.ini')
    writeFileSync(file, '')
    const loaded = checkConfigFile(file, null, grammar, ctx)
    assert.equal(loaded.settings, undefined)
    assert.deepEqual(loaded.errors, [`${file}: cannot be read by Haraka`])
  })
})
