/**
 * The dependency rule of src/ (README, "Layout"): imports only run down the floors below, never
 * back up, and nothing imports in a circle. `npm run lint` runs it.
 *
 * Floors, top to bottom; a module may import its own floor and the floors below it:
 *   cli
 *   serve, mcp (MCP client tools: it uses serve's W3C propagator), viewer, replay, testing
 *   telemetry (SDK setup, exporters, tracedRuntime) and the runtime factory
 *   tracing, budget, state (middleware and stores, written against runtime's interfaces)
 *   runtime (the loop, RunState, Middleware)
 *   agent and tool definitions, with the budget policy and compression strategy types they carry
 *   providers, pricing
 *   messages, errors, abort, secrets, traces (reading trace files needs nothing above node:fs),
 *   and tracing/attributes.ts (the span and attribute names: constants that import nothing, which
 *   traces/ needs to summarize runs)
 * index.ts (the public API) and the package's other entry points stand on top.
 */
const FLOORS = [
  ['^src/cli/'],
  ['^src/serve/', '^src/mcp/', '^src/viewer/', '^src/replay/', '^src/testing/'],
  ['^src/telemetry/', '^src/create-runtime\\.ts$'],
  ['^src/tracing/(?!attributes\\.ts$)', '^src/budget/(?!policy\\.ts$|compress\\.ts$)', '^src/state/'],
  ['^src/runtime/'],
  ['^src/agent\\.ts$', '^src/tool\\.ts$', '^src/budget/policy\\.ts$', '^src/budget/compress\\.ts$'],
  ['^src/providers/', '^src/pricing/'],
  ['^src/messages\\.ts$', '^src/errors\\.ts$', '^src/abort\\.ts$', '^src/secrets\\.ts$', '^src/traces/', '^src/tracing/attributes\\.ts$'],
];

const either = (paths) => paths.map((p) => `(?:${p})`).join('|');

/** One rule per floor: nothing on it imports a floor above it. */
const upward = FLOORS.slice(1).map((floor, i) => ({
  name: `no-upward-import-from-${floor[0].replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '')}`,
  comment: 'Imports run down the floors (README, "Layout"); this one runs back up.',
  severity: 'error',
  from: { path: either(floor) },
  to: { path: either(FLOORS.slice(0, i + 1).flat()) },
}));

export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A circle of imports has no bottom floor: split out what both sides need.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'only-telemetry-touches-the-sdk',
      comment: 'The library core depends on @opentelemetry/api only; SDK setup lives in telemetry/; the CLI, serve and testing may use it too.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(telemetry|cli|testing|serve)/' },
      to: { path: '@opentelemetry/(sdk-|exporter-|otlp-|resources|context-async-hooks|core)' },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
