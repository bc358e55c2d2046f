/** `tracebound/testing`: what users import in tests. */
export { scriptedModel, type ScriptedModel, type ScriptedModelOptions, type ScriptedResponse } from './scripted-model.js';
export {
  loadFixture,
  startRecordedServer,
  type ReceivedRequest,
  type RecordedExchange,
  type RecordedServer,
} from './recorded-server.js';
export { collectSpans, type SpanCollector } from './collect-spans.js';
export { recordRun, type RecordedRunResult, type RecordRunOptions } from './record.js';
export {
  traceboundMatchers,
  type MatchRecordingOptions,
  type MatcherContext,
  type MatcherResult,
  type TraceboundMatchers,
} from './matchers.js';
export {
  formatReport,
  replayRun,
  replayTrace,
  ReplayDivergenceError,
  selectRun,
  type Difference,
  type DifferenceKind,
  type ReplayOptions,
  type ReplayResult,
  type SubRunPlace,
} from '../replay/replay.js';
export { readRecording, recordedRuns, ReplayFileError } from '../replay/read.js';
export type {
  RecordedBudgetEvent,
  RecordedCompression,
  RecordedModelCall,
  RecordedRun,
  RecordedSource,
  RecordedStep,
  RecordedToolCall,
} from '../replay/recording.js';
export type { ValueDifference } from '../replay/diff.js';
