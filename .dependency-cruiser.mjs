// The import graph of plugins/ (npm run lint): no file cycles, and stage folders import one way only
// (the ranks of the layout, issue 20). A file may import its own folder and folders of lower rank;
// never a folder of the same rank or higher, never the entry. test/ may import anything and is not
// checked.
const STAGE_RANKS = {
  util: 0,
  types: 0,
  settings: 1,
  routing: 2,
  invocation: 3,
  running: 4,
  circuit: 4,
  journal: 5,
  metrics: 5,
  rcpt: 6,
  queue: 6,
  log: 7,
  tools: 8,
}
const ROOT = '^plugins/pipe_transport/'
const ENTRY = '^plugins/pipe_transport[.]ts$'
const stages = Object.keys(STAGE_RANKS)
const inAStage = `${ROOT}(${stages.join('|')})/`

const rankRules = stages.flatMap((stage) => {
  const rank = STAGE_RANKS[stage]
  const notBelow = stages.filter((other) => other !== stage && STAGE_RANKS[other] >= rank)
  if (notBelow.length === 0) return []
  const below = stages.filter((other) => STAGE_RANKS[other] < rank).map((other) => `${other}/`)
  const allowed = [`${stage}/`, ...below].join(', ')
  return [
    {
      name: `rank-${stage}`,
      severity: 'error',
      comment: `${stage}/ is rank ${rank}: of the plugin's folders it may import only ${allowed}`,
      from: { path: `${ROOT}${stage}/` },
      to: { path: `${ROOT}(${notBelow.join('|')})/` },
    },
  ]
})

export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'a file cycle: one of these files must not import the next (type-only imports count too)',
      from: { path: '^plugins/' },
      to: { circular: true },
    },
    ...rankRules,
    {
      name: 'entry-is-top',
      severity: 'error',
      comment: 'plugins/pipe_transport.ts wires the hooks and is rank 9: no file of the plugin imports it',
      from: { path: '^plugins/' },
      to: { path: ENTRY },
    },
    {
      name: 'outside-the-layout',
      severity: 'error',
      comment: `every file under plugins/pipe_transport/ lives in a stage folder: ${stages.join(', ')}`,
      from: { path: ROOT, pathNot: inAStage },
      to: {},
    },
    {
      name: 'to-outside-the-layout',
      severity: 'error',
      comment: `every file under plugins/pipe_transport/ lives in a stage folder: ${stages.join(', ')}`,
      from: { path: '^plugins/' },
      to: { path: ROOT, pathNot: inAStage },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import that resolves to no file',
      from: { path: '^plugins/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment: 'the plugin runs without devDependencies installed (type-only imports are erased)',
      from: { path: '^plugins/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    // the sources compile in place: x.js beside x.ts is output, not a module of its own
    exclude: { path: '^plugins/.*[.]js$' },
    doNotFollow: { path: 'node_modules' },
    // type-only imports are part of the design's direction too
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // imports say './x.js' and x.js is x.ts compiled beside it: see that file
    webpackConfig: { fileName: '.dependency-cruiser-resolve.mjs' },
    reporterOptions: { text: { highlightFocused: true } },
  },
}
