/** One traced tool call (`execute_tool {tool}`), with its hooks. */
import type { Context } from '@opentelemetry/api';
import type { Agent } from '../agent.js';
import type { ToolCall } from '../messages.js';
import type { Tool } from '../tool.js';
import { ATTR, SPAN_NAME } from '../tracing/attributes.js';
import { toolAttributes, toolResultAttributes } from '../tracing/instrumentation.js';
import { recordError, setAttributes, withSpan } from '../tracing/span.js';
import type { RunScope } from './scope.js';
import { executeTool, type ToolOutcome } from './tools.js';

/**
 * Runs one tool call in its span; never throws for the tool's own failures (they become error
 * results for the model, and status ERROR with `error.type` on the span).
 * @throws what an `afterToolCall` hook throws.
 */
export async function runTool(
  agent: Agent,
  call: ToolCall,
  tool: Tool | undefined,
  stepIndex: number,
  parent: Context,
  available: readonly string[],
  scope: RunScope,
): Promise<ToolOutcome> {
  return withSpan(
    scope.tracer,
    {
      name: SPAN_NAME.tool(call.name),
      parent,
      attributes: () => toolAttributes(call, tool, scope.owner, scope.capture),
      capture: scope.capture,
    },
    async ({ span }) => {
      scope.emit({ type: 'tool-call-start', step: stepIndex, toolCall: call });
      const started = performance.now();
      let outcome: ToolOutcome;
      try {
        await scope.hooks.beforeToolCall?.({ agent, step: stepIndex, toolCall: call });
        outcome = await executeTool(tool, call, scope.signal, available);
      } catch (error) {
        outcome = { content: `Error: ${error instanceof Error ? error.message : String(error)}`, isError: true, errorType: 'hook', error };
      }
      await scope.hooks.afterToolCall?.({ agent, step: stepIndex, toolCall: call, outcome });
      setAttributes(span, () => toolResultAttributes(outcome.content, scope.capture));
      if (outcome.isError) {
        recordError(span, outcome.error ?? Object.assign(new Error(outcome.content), { kind: outcome.errorType }), scope.capture);
        if (outcome.errorType) span.setAttribute(ATTR.errorType, outcome.errorType);
      }
      scope.emit({
        type: 'tool-call-end',
        step: stepIndex,
        toolCall: call,
        result: outcome.content,
        isError: outcome.isError,
        durationMs: performance.now() - started,
      });
      return outcome;
    },
  );
}
