// Bad configuration stops Haraka at start, and every logged error names the file, section and key.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch } from './fixtures.js'

const sorted = (lines: string[]): string[] => lines.sort()

describe('configuration errors at start', () => {
  const work = new Scratch()
  const notExecutable = work.path('not-executable')
  writeFileSync(notExecutable, '#!/bin/sh\n')
  after(() => work.remove())

  /** Starts Haraka with the ini, expects it to stop, and returns the pipe_transport error lines. */
  async function refusal(ini: string): Promise<string[]> {
    const { code, log } = await Haraka.startExpectingRefusal({ ini })
    assert.notEqual(code, 0, 'Haraka must exit with a failure status')
    assert.doesNotMatch(log, /Listening on/)
    return (
      log
        .split('\n')
        .filter((line) => line.includes('[CRIT] [-] [pipe_transport]'))
        .map((line) => line.replace(/^.*\[pipe_transport\] \S+\/config\/pipe_transport\.ini /, ''))
        // The list of known keys grows with features; that it is there is what matters.
        .map((line) => line.replace(/(known keys here: )program_name, .*timeout, .*$/, '$1…'))
    )
  }

  it('refuses a bad exit-code map, naming section and key for each problem', async () => {
    const errors = await refusal(`
[one]
program_name = /bin/cat
domain = one.test

[one.code]
0 = 250 fine
abc = 250 ok
256 = 250 ok
1 = 650 nope
2 = hello
3 = 550 4.3.0 class mismatch
-1 = 550 negative
`)
    assert.deepEqual(
      errors.sort(),
      sorted([
        '[one.code] -1: must be an exit status from 0 to 255, or "default"',
        '[one.code] 1: "650 nope" must start with a 2xx, 4xx or 5xx reply code, as in "550 5.1.1 no such user"',
        '[one.code] 2: "hello" must start with a 2xx, 4xx or 5xx reply code, as in "550 5.1.1 no such user"',
        '[one.code] 256: must be an exit status from 0 to 255, or "default"',
        '[one.code] 3: "550 4.3.0 class mismatch": enhanced status code 4.3.0 does not match reply code class 5xx',
        '[one.code] abc: must be an exit status from 0 to 255, or "default"',
      ]),
    )
  })

  it('refuses instances without a usable program or domain, and unknown keys', async () => {
    const errors = await refusal(`
[main]
timeot = 5
enable_outbound = perhaps
domain = main.test
spawn_helpers = 65

[missing]
domain = missing.test

[absent]
program_name = /no/such/program
domain = absent.test

[noexec]
program_name = ${notExecutable}
domain = noexec.test
output_fil = /tmp/x

[nodomain]
program_name = /bin/cat

[baddomain]
program_name = /bin/cat
domain = ok.test, -bad-.test

[taken]
program_name = /bin/cat
domain = OK.test

[stray.cod]
0 = 250 ok

[bounds]
program_name = /bin/cat
domain = bounds.test
spawn_helpers = 1
timeout = 281
max_concurrency = 0
arguments = -f \${sendr} "open
user = root
directory = /no/such/dir

[shaping]
program_name = /bin/cat
domain = shaping.test
code_preset = postfix
status_from_stderr = maybe
line_endings = cr
delivered_to = true
check_recipient = sometimes
recipient_limit = none

[unlimited]
program_name = /bin/cat
domain = unlimited.test
delivered_to = yes

[more]
program_name = /tmp
domain = more.test, MORE.test
arguments = "unterminated
user = no-such-user-here
group = no-such-group-here

[more.env]
SENDER = forged
BAD-NAME = x

[ghost.code]
0 = 250 ok

[numeric]
program_name = /bin/cat
domain = numeric.test
user = 54321
`)
    assert.deepEqual(
      errors.sort(),
      sorted([
        '[absent] program_name: /no/such/program does not exist',
        '[baddomain] domain: "-bad-.test" is not a domain, "*.domain" or "*"',
        '[main] timeot: unknown key; did you mean "timeout"?',
        '[main] domain: belongs in an instance section: [main] holds what every instance inherits, and a domain has one instance',
        '[main] enable_outbound: "perhaps" must be true or false',
        '[main] spawn_helpers: is no longer used: programs start with posix_spawn in Haraka itself, which needs no helper processes; remove this line',
        '[missing] program_name: is required: the absolute path of the program to run',
        '[noexec] output_fil: unknown key; did you mean "output_file"?',
        `[noexec] program_name: ${notExecutable} is not executable`,
        '[nodomain] domain: is required, or a [nodomain.address] section: the recipients this instance delivers',
        '[stray.cod]: unknown section; did you mean [stray.code]?',
        '[taken] domain: ok.test is already routed by [baddomain]',
        '[bounds] spawn_helpers: is no longer used: programs start with posix_spawn in Haraka itself, which needs no helper processes; remove this line',
        '[bounds] timeout: "281" must be a whole number from 1 to 280',
        '[bounds] max_concurrency: "0" must be a whole number from 1 to 10000',
        '[bounds] arguments: unknown macro ${sendr}; known: ${sender} ${recipient} ${user} ${extension} ${mailbox} ${domain} ${original_recipient} ${route_data} ${queue_id} ${client_address} ${client_helo} ${sasl_username} ${size} ${envid} ${delivery_id} ${instance}',
        '[bounds] directory: /no/such/dir is not a directory',
        '[shaping] code_preset: "postfix" must be one of: seed, sysexits, qmail',
        '[shaping] status_from_stderr: "maybe" must be true or false',
        '[shaping] line_endings: "cr" must be one of: lf, crlf',
        '[more] program_name: /tmp is not a regular file',
        '[more] domain: more.test is listed twice',
        '[more] arguments: unterminated double quote',
        ...(process.getuid?.() === 0
          ? [
              '[more] user: no such user "no-such-user-here"',
              '[more] group: no such group "no-such-group-here"',
              '[numeric] group: is required: user "54321" has no passwd entry to take a group from',
            ]
          : [
              '[more] user: needs Haraka to run as root and stay root (no user in smtp.ini)',
              '[numeric] user: needs Haraka to run as root and stay root (no user in smtp.ini)',
            ]),
        '[more.env] SENDER: is set by pipe_transport from the transaction and cannot be configured',
        '[more.env] BAD-NAME: is not a valid environment variable name',
        '[ghost.code]: there is no instance [ghost] for this section',
        '[unlimited] delivered_to: needs recipient_limit = 1: a message can name only one Delivered-To recipient',
        '[shaping] check_recipient: "sometimes" must be true or false',
        '[shaping] recipient_limit: "none" must be a whole number from 1 to 100000',
        ...(process.getuid?.() === 0
          ? [
              '[bounds] user: programs never run as root (uid 0)',
              '[bounds] user: programs never run with group root (gid 0)',
            ]
          : ['[bounds] user: needs Haraka to run as root and stay root (no user in smtp.ini)']),
      ]),
    )
  })
})

describe('what haraka-config would lose, at start', () => {
  it('refuses lines it drops, keys set twice and failure replies without text, in one line each with no stack trace', async () => {
    // journal is set here so that the harness adds no line to move the others.
    const ini = [
      '[main]',
      'journal = off',
      '[text]',
      'program_name = /bin/cat',
      'domain = text.test',
      'timeout = 5',
      'timeout = 6',
      '[text.env]',
      '"QUOTED" = x',
      '[text.code]',
      '75 = 450',
      '0 = 450 4.3.0 temporary',
    ].join('\n')
    const { code, log } = await Haraka.startExpectingRefusal({ ini })
    assert.notEqual(code, 0)
    const crit = log
      .split('\n')
      .filter((line) => line.includes('[CRIT] [-] [pipe_transport]'))
      .map((line) => line.replace(/^.*\[pipe_transport\] \S+\/config\/pipe_transport\.ini /, ''))
    assert.deepEqual(crit, [
      '[text] timeout: is set on lines 6 and 7: haraka-config keeps only the last; write it once',
      '[text.env] "QUOTED": line 9 is dropped by haraka-config: a key cannot hold """ (only letters, digits and _ @ : . + - / [ ])',
      '[text.code] 75: "450" has no text, so the client would get Haraka\'s "450 Message denied temporarily"; write one, as in "450 4.3.0 try again later"',
    ])
    assert.match(
      log,
      /\[WARN\] \[-\] \[pipe_transport\] \S+pipe_transport\.ini \[text\.code\] 0: "450 4\.3\.0 temporary" answers a program that succeeded with a failure/,
    )
    // Haraka's last word is one line; no stack frames follow it, on the line or after.
    assert.match(
      log,
      /\[CRIT\] \[-\] \[core\] Caught exception:3 error\(s\) in \S+\/config\/pipe_transport\.ini, listed above; Haraka cannot start\n/,
    )
    assert.doesNotMatch(log, /\bat (Plugin|plugins|Object|Module)\.|\.js:\d+:\d+/)
  })
})

describe('what an operator means and haraka-config reads otherwise, at start', () => {
  it('refuses inline comments, quotes kept as part of a value, and a command line in program_name', async () => {
    const ini = [
      '[main]',
      'journal = off',
      '[rt]',
      'program_name = /usr/bin/rt-mailgate --queue x',
      "arguments = --queue ${route_data} --url http://rt.example.com/ ; RT's URL",
      '[rt.address]',
      'billing@example.com = billing   ; the billing queue',
      'support@example.com = general',
      '[momentum]',
      'program_name = "/bin/cat"',
      'domain = momentum.test # the old domain',
    ].join('\n')
    const { code, log } = await Haraka.startExpectingRefusal({ ini })
    assert.notEqual(code, 0)
    const crit = log
      .split('\n')
      .filter((line) => line.includes('[CRIT] [-] [pipe_transport]'))
      .map((line) => line.replace(/^.*\[pipe_transport\] \S+\/config\/pipe_transport\.ini /, ''))
    const comment = (what: string): string =>
      `"${what}" would be part of the value: inline comments are not comments in haraka-config ini; put the comment on a line of its own`
    assert.deepEqual(crit.sort(), [
      `[momentum] domain: line 11: ${comment('# the old domain')}`,
      '[momentum] program_name: line 10: haraka-config keeps the quotes of "/bin/cat" as part of the value; write "program_name = /bin/cat"',
      `[rt.address] billing@example.com: ${comment('; the billing queue')}`,
      `[rt] arguments: line 5: ${comment("; RT's URL")}`,
      // Debian's rt-mailgate is not installed here.
      '[rt] program_name: "/usr/bin/rt-mailgate --queue x" holds arguments: program_name names the file alone, and the arguments go in arguments; /usr/bin/rt-mailgate does not exist either',
    ])
    assert.match(
      log,
      /Caught exception:5 error\(s\) in \S+\/config\/pipe_transport\.ini, listed above; Haraka cannot start\n/,
    )
  })
})

describe('configuration errors of routing by address', () => {
  it('names the section and key of every bad address entry, and both instances of a conflict', async () => {
    const { code, log } = await Haraka.startExpectingRefusal({
      ini: `
[main]
program_name = /bin/cat
recipient_delimiter = +@

[rt]
arguments = --queue \${route_data}
x_original_to = true

[rt.address]
support@example.test = general
nobody-here = x
dash@example.test = -x
@example.test
twice@example.test = a
Twice@example.test = b
star*@example.test = x

[other]
domain = example.test

[other.address]
support@example.test = other

[lonely]

[main.address]
a@example.test

[unrouted]
support@example.test
@example.test
abuse@ = yes
`,
    })
    assert.notEqual(code, 0)
    const errors = log
      .split('\n')
      .filter((line) => line.includes('[CRIT] [-] [pipe_transport]'))
      .map((line) => line.replace(/^.*\[pipe_transport\] \S+\/config\/pipe_transport\.ini /, ''))
    assert.deepEqual(
      errors.sort(),
      sorted([
        '[main] recipient_delimiter: "+@" must be one or more characters other than white space, @, comma, " and \\, e.g. + or +-',
        '[main.address]: addresses are routed by an instance: use [NAME.address] beside [NAME]',
        '[rt] x_original_to: needs recipient_limit = 1: a message can name only one X-Original-To recipient',
        '[rt.address] nobody-here: must be an address (local@domain) or @domain',
        '[rt.address] dash@example.test: route data "-x" must not start with "-"',
        '[rt.address] Twice@example.test: twice@example.test is listed twice',
        '[rt.address] star*@example.test = x: is not "address" or "address = route data": an address may hold letters, digits and . _ + - / : @ only',
        '[rt.address] @example.test: is already routed by [other]',
        '[other.address] support@example.test: is already routed by [rt]',
        '[lonely] domain: is required, or a [lonely.address] section: the recipients this instance delivers',
        '[unrouted] support@example.test: is routed by [rt] in [rt.address]',
        '[unrouted] @example.test: must be an address (local@domain) or local@ for that local part in every domain',
        '[unrouted] abuse@: takes no value: list the address alone',
      ]),
    )
  })
})

describe(
  'user and group under a Haraka that drops root',
  { skip: process.getuid?.() === 0 ? false : 'needs root' },
  () => {
    it("refuses at start: programs start after Haraka has become smtp.ini's user", async () => {
      const { code, log } = await Haraka.startExpectingRefusal({
        smtp: ['user=nobody'],
        ini: '[dropped]\nprogram_name = /bin/cat\ndomain = dropped.test\nuser = nobody\n',
      })
      assert.notEqual(code, 0)
      assert.match(
        log,
        /pipe_transport\.ini \[dropped\] user: needs Haraka to run as root and stay root \(no user in smtp\.ini\)/,
      )
    })
  },
)
