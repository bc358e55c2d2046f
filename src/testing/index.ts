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
