/**
 * Profiles from any OpenAI-compatible Chat Completions server, streamed:
 * the answer is parsed while it arrives, so fields are reported the moment
 * they are complete. Every call is bounded (per attempt and in total) and
 * ends either in a valid profile or in `EnrichmentFailed`.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import OpenAI, { APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { CompletionUsage } from 'openai/resources/completions';

import type { Pet } from '../../../../../shared/pet.js';
import { timeoutSignal } from '../../../../engine/index.js';
import { PartialProfile } from './partial-profile.js';
import {
  EnrichmentFailed,
  type GenerateOptions,
  type ProfileGenerator,
  type ProfileUpdate,
} from './profile-generator.js';
import { profileResponseFormat, type ResponseFormatKind } from './profile-json-schema.js';
import { profileMessages } from './prompt.js';
import { retryDelayMs } from './retry-policy.js';

export type OpenAIProfileOptions = {
  readonly apiKey: string;
  /** Any OpenAI-compatible server (e.g. `http://127.0.0.1:11434/v1`); OpenAI's own when absent. */
  readonly baseURL?: string | undefined;
  readonly model: string;
  /** Longest silence per attempt: before the answer starts, and between two pieces of it. */
  readonly timeoutMs: number;
  /** Bound on the whole generation, retries and their waits included. */
  readonly totalTimeoutMs: number;
  /** Further attempts after one that failed before the model produced anything usable. */
  readonly maxRetries: number;
  /** `json_schema` (structured output from the profile schema) or plain JSON mode. */
  readonly responseFormat: ResponseFormatKind;
};

function validate(options: OpenAIProfileOptions): OpenAIProfileOptions {
  const positive = ['timeoutMs', 'totalTimeoutMs'] as const;
  for (const key of positive) {
    if (!Number.isInteger(options[key]) || options[key] < 1) {
      throw new TypeError(`Expected \`${key}\` to be an integer ≥ 1, got \`${options[key]}\``);
    }
  }
  if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) {
    throw new TypeError(`Expected \`maxRetries\` to be an integer ≥ 0, got \`${options.maxRetries}\``);
  }
  if (options.model === '') throw new TypeError('Expected `model` to be a model name, got an empty string');
  return options;
}

/** What one attempt learnt, for the log line. */
type AttemptStats = {
  usage?: CompletionUsage;
  firstTokenMs?: number;
  finishReason?: string | null;
};

export class OpenAIProfileGenerator implements ProfileGenerator {
  readonly #client: OpenAI;
  readonly #options: OpenAIProfileOptions;

  constructor(options: OpenAIProfileOptions) {
    this.#options = validate(options);
    this.#client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs,
      // Retries are ours: they must fit in the total bound, and stop once the answer has started.
      maxRetries: 0,
      // Failures are logged here, with the trace id.
      logLevel: 'off',
    });
  }

  async *generate(pet: Pet, { signal, logger }: GenerateOptions): AsyncGenerator<ProfileUpdate> {
    const { totalTimeoutMs } = this.#options;
    const deadline = performance.now() + totalTimeoutMs;
    // On a timer held until the generator ends (see timeoutSignal).
    const total = timeoutSignal(totalTimeoutMs, 'The model did not answer in time');
    const budget = AbortSignal.any([signal, total.signal]);
    try {
      yield* this.#attempts(pet, { signal, logger, budget, deadline });
    } finally {
      total.clear();
    }
  }

  async *#attempts(
    pet: Pet,
    {
      signal,
      logger,
      budget,
      deadline,
    }: GenerateOptions & { readonly budget: AbortSignal; readonly deadline: number },
  ): AsyncGenerator<ProfileUpdate> {
    const { maxRetries, model } = this.#options;
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      const stats: AttemptStats = {};
      // Once an update has been handed on, a retry could contradict it: no retry after that.
      let produced = false;
      try {
        for await (const update of this.#attempt(pet, { budget, stats })) {
          // Logged before the last update is handed on: the consumer stops reading at `done`.
          if (update.type === 'done') {
            logger.info(
              { model, attempt, latencyMs: elapsed(started), ...statsForLog(stats) },
              '🤖 Model answered',
            );
          }
          produced = true;
          yield update;
        }
        return;
      } catch (error) {
        const failure = this.#toFailure(error, signal, budget);
        const retryInMs = produced
          ? null
          : retryDelayMs(error instanceof APIError ? error : failure, {
              retriesDone: attempt - 1,
              maxRetries,
              remainingMs: deadline - performance.now(),
            });
        logger.warn(
          {
            model,
            attempt,
            latencyMs: elapsed(started),
            ...statsForLog(stats),
            reason: failure.reason,
            status: failure.status,
            err: failure,
            retryInMs,
          },
          retryInMs === null ? '❌ Model call failed' : '❌ Model call failed, retrying',
        );
        if (retryInMs === null) throw failure;
        try {
          await sleep(retryInMs, undefined, { signal: budget });
        } catch (abort) {
          throw this.#toFailure(abort, signal, budget);
        }
      }
    }
  }

  async *#attempt(
    pet: Pet,
    { budget, stats }: { readonly budget: AbortSignal; readonly stats: AttemptStats },
  ): AsyncGenerator<ProfileUpdate> {
    const { timeoutMs } = this.#options;
    const silence = new AbortController();
    const timer = setTimeout(() => silence.abort(), timeoutMs).unref();
    const signal = AbortSignal.any([budget, silence.signal]);
    const started = performance.now();
    const answer = new PartialProfile();
    try {
      const stream = await this.#client.chat.completions.create(
        {
          model: this.#options.model,
          messages: profileMessages(pet),
          response_format: profileResponseFormat(this.#options.responseFormat),
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal },
      );
      timer.refresh();
      for await (const chunk of stream) {
        timer.refresh();
        if (chunk.usage) stats.usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        if (choice.delta.refusal) throw new EnrichmentFailed('refused', 'the model refused to answer');
        if (choice.finish_reason) stats.finishReason = choice.finish_reason;
        const content = choice.delta.content;
        if (!content) continue;
        stats.firstTokenMs ??= elapsed(started);
        for (const update of answer.push(content)) {
          yield update;
          // Our own writes do not count as the model's silence.
          timer.refresh();
        }
      }
      // The SDK ends the iteration quietly when the request is aborted.
      if (signal.aborted) throw new APIUserAbortError();
      checkFinishReason(stats.finishReason);
      const { profile, updates } = answer.finish();
      yield* updates;
      yield { type: 'done', profile };
    } catch (error) {
      if (silence.signal.aborted && !budget.aborted) {
        throw new EnrichmentFailed('timeout', `the model sent nothing for ${timeoutMs} ms`, { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #toFailure(error: unknown, step: AbortSignal, budget: AbortSignal): EnrichmentFailed {
    if (error instanceof EnrichmentFailed) return error;
    if (step.aborted)
      return new EnrichmentFailed('aborted', 'the enrichment was cancelled', { cause: error });
    if (budget.aborted) {
      return new EnrichmentFailed('timeout', `no complete answer within ${this.#options.totalTimeoutMs} ms`, {
        cause: error,
      });
    }
    if (error instanceof APIConnectionTimeoutError) {
      return new EnrichmentFailed('timeout', `no answer within ${this.#options.timeoutMs} ms`, {
        cause: error,
      });
    }
    const status: unknown = error instanceof APIError ? error.status : undefined;
    if (typeof status === 'number') {
      return new EnrichmentFailed('http', `the server answered HTTP ${status}`, { cause: error, status });
    }
    if (error instanceof SyntaxError) {
      return new EnrichmentFailed('malformed', 'the server sent an event that is not JSON', { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new EnrichmentFailed('connection', `the connection failed: ${message}`, { cause: error });
  }
}

/** Only a natural stop means the answer is whole. */
function checkFinishReason(reason: string | null | undefined): void {
  if (reason === 'stop') return;
  if (reason === 'length') throw new EnrichmentFailed('incomplete', 'the answer was cut at the token limit');
  if (reason === 'content_filter')
    throw new EnrichmentFailed('refused', 'the answer was withheld by a content filter');
  throw new EnrichmentFailed(
    'incomplete',
    reason
      ? `the answer ended with finish reason "${reason}"`
      : 'the answer stream ended before the model finished',
  );
}

function statsForLog(stats: AttemptStats) {
  return {
    firstTokenMs: stats.firstTokenMs,
    finishReason: stats.finishReason,
    usage: stats.usage && {
      promptTokens: stats.usage.prompt_tokens,
      completionTokens: stats.usage.completion_tokens,
      totalTokens: stats.usage.total_tokens,
    },
  };
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}
