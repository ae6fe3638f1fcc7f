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
    return log
      .split('\n')
      .filter((line) => line.includes('[CRIT] [-] [pipe_transport]'))
      .map((line) => line.replace(/^.*\[pipe_transport\] \S+\/config\/pipe_transport\.ini /, ''))
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
    assert.deepEqual(errors.sort(), sorted([
      '[one.code] -1: must be an exit status from 0 to 255, or "default"',
      '[one.code] 1: "650 nope" must start with a 2xx, 4xx or 5xx reply code, as in "550 5.1.1 no such user"',
      '[one.code] 2: "hello" must start with a 2xx, 4xx or 5xx reply code, as in "550 5.1.1 no such user"',
      '[one.code] 256: must be an exit status from 0 to 255, or "default"',
      '[one.code] 3: "550 4.3.0 class mismatch": enhanced status code 4.3.0 does not match reply code class 5xx',
      '[one.code] abc: must be an exit status from 0 to 255, or "default"',
    ]))
  })

  it('refuses instances without a usable program or domain, and unknown keys', async () => {
    const errors = await refusal(`
[main]
timeot = 5
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
`)
    assert.deepEqual(errors.sort(), sorted([
      '[absent] program_name: /no/such/program does not exist',
      '[baddomain] domain: "-bad-.test" is not a domain, "*.domain" or "*"',
      '[main] timeot: unknown key; known keys here: program_name, arguments, output_file, error_file, directory, timeout, max_concurrency, user, group, code_preset, status_from_stderr, line_endings, return_path, delivered_to, from_line, recipient_limit, spawn_helpers',
      '[main] spawn_helpers: "65" must be a whole number from 0 to 64',
      '[missing] program_name: is required: the absolute path of the program to run',
      `[noexec] output_fil: unknown key; known keys here: program_name, arguments, domain, output_file, error_file, directory, timeout, max_concurrency, user, group, code_preset, status_from_stderr, line_endings, return_path, delivered_to, from_line, recipient_limit`,
      `[noexec] program_name: ${notExecutable} is not executable`,
      '[nodomain] domain: is required: the recipient domains this instance delivers',
      '[stray.cod]: unknown section; use [NAME] for an instance, [NAME.code] or [NAME.env] beside it',
      '[taken] domain: ok.test is already routed by [baddomain]',
      '[bounds] spawn_helpers: unknown key; known keys here: program_name, arguments, domain, output_file, error_file, directory, timeout, max_concurrency, user, group, code_preset, status_from_stderr, line_endings, return_path, delivered_to, from_line, recipient_limit',
      '[bounds] timeout: "281" must be a whole number from 1 to 280',
      '[bounds] max_concurrency: "0" must be a whole number from 1 to 10000',
      '[bounds] arguments: unknown macro ${sendr}; known: ${sender} ${recipient} ${user} ${domain} ${queue_id} ${client_address} ${client_helo} ${instance}',
      '[bounds] directory: /no/such/dir is not a directory',
      ...(process.getuid?.() === 0
        ? ['[bounds] user: programs never run as root (uid 0)', '[bounds] user: programs never run with group root (gid 0)']
        : ['[bounds] user: needs Haraka to run as root, which it does not']),
    ]))
  })
})
