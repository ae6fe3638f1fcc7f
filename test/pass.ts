// One pass of `npm test`: runs `node ARGS...` (a `node --test` run) and says which pass it is,
// before it and under its summary, so that the passes' summaries can be told apart. The label is
// every PIPE_TRANSPORT_* variable the pass is run with (`npm test` runs the suite once per
// setting), so a pass added or changed in package.json names itself.
//
//   PIPE_TRANSPORT_SPAWN_HELPERS=2 node test/pass.js --test test/e2e/*.test.js
import { spawn } from 'node:child_process'
import { stripVTControlCharacters } from 'node:util'

/** Variables that change what a pass tests; PIPE_TRANSPORT_TEST_LOG only shows more. */
const label = (env: NodeJS.ProcessEnv): string => {
  const settings = Object.entries(env)
    .filter(
      ([name, value]) =>
        name.startsWith('PIPE_TRANSPORT_') && name !== 'PIPE_TRANSPORT_TEST_LOG' && value !== undefined,
    )
    .map(([name, value]) => `${name}=${value}`)
    .sort()
  return settings.length > 0 ? settings.join(' ') : "the plugin's defaults"
}

/** The counts in node --test's closing summary: `# pass 12` (tap) or `ℹ pass 12` (spec). */
function summaryOf(output: string): string {
  const count = (name: string): string | undefined =>
    [...output.matchAll(new RegExp(`^(?:# |ℹ )${name} (\\d+)$`, 'gm'))].at(-1)?.[1]
  if (count('tests') === undefined) return 'no summary'
  return `${count('tests')} tests, ${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped`
}

const args = process.argv.slice(2)
const name = `npm test pass with ${label(process.env)}`
// node --test writes spec to a terminal and tap elsewhere; its stdout is a pipe here, so ask.
const reporter =
  process.stdout.isTTY && !args.some((arg) => arg.startsWith('--test-reporter')) ? ['--test-reporter=spec'] : []
process.stdout.write(`\n=== ${name} ===\n\n`)
const child = spawn(process.execPath, [...reporter, ...args], {
  stdio: ['inherit', 'pipe', 'inherit'],
  env: process.stdout.isTTY ? { FORCE_COLOR: '1', ...process.env } : process.env,
})
let output = ''
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk)
  output += chunk.toString()
  // Only the summary at the end is needed; keep the tail small.
  if (output.length > 65536) output = output.slice(-16384)
})
// Ctrl-C reaches the whole process group; the runner stops its tests, and this waits for it.
process.on('SIGINT', () => undefined)
child.on('close', (code, signal) => {
  const verdict = code === 0 ? 'ok' : `FAILED (${signal ?? `exit ${code}`})`
  process.stdout.write(`\n=== ${name}: ${verdict}: ${summaryOf(stripVTControlCharacters(output))} ===\n`)
  process.exit(code ?? 1)
})
