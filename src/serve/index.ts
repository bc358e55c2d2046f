/** Long-running mode: `serve()` and its inputs and outputs. */
export {
  defaultInputSchema,
  outcomeJson,
  resultJson,
  serve,
  type Server,
  type ServeInput,
  type ServeOptions,
  type ServeRuntime,
} from './serve.js';
export { ServerBusyError, type DispatchOptions, type Dispatcher, type InboundMessage, type Input, type Output, type RunOutcome } from './types.js';
export { httpInput, type HttpInput, type HttpInputOptions } from './inputs/http.js';
export { scheduleInput, type ScheduleInputOptions } from './inputs/schedule.js';
export { stdoutOutput, type StdoutOutputOptions } from './outputs/stdout.js';
export { webhookOutput, type WebhookOutputOptions } from './outputs/webhook.js';
export {
  bullmqInput,
  enqueueRun,
  type BullmqInputOptions,
  type FleetSchedule,
  type RunJobData,
  type RunJobFailure,
  type RunJobResult,
  type RunQueue,
} from './inputs/bullmq.js';
export { redisStreamOutput, type RedisStreamOutputOptions } from './outputs/redis-stream.js';
