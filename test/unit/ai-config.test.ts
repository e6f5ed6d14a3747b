import { describe, expect, test } from 'vitest';

import { ConfigError, loadConfig } from '../../server/engine/config.js';

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('model configuration', () => {
  test('defaults: 30 s per attempt, 2 retries, a total bound of three quarters of the step timeout, JSON schema', () => {
    expect(loadConfig({}).openai).toEqual({
      apiKey: undefined,
      baseURL: undefined,
      model: 'gpt-4o-mini',
      timeoutMs: 30_000,
      maxRetries: 2,
      totalTimeoutMs: 90_000,
      responseFormat: 'json_schema',
    });
    expect(loadConfig({ STEP_TIMEOUT_MS: '10000' }).openai.totalTimeoutMs).toBe(7500);
  });

  test('a local OpenAI-compatible server', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'ollama',
      OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      OPENAI_MODEL: 'llama3.2',
      OPENAI_RESPONSE_FORMAT: 'json_object',
      OPENAI_TOTAL_TIMEOUT_MS: '60000',
    });
    expect(config.openai).toMatchObject({
      apiKey: 'ollama',
      baseURL: 'http://127.0.0.1:11434/v1',
      model: 'llama3.2',
      responseFormat: 'json_object',
      totalTimeoutMs: 60_000,
    });
  });

  test('bad values are named', () => {
    expect(problems({ OPENAI_TOTAL_TIMEOUT_MS: '0', OPENAI_RESPONSE_FORMAT: 'yaml' })).toEqual([
      expect.stringMatching(/^OPENAI_TOTAL_TIMEOUT_MS: .* \(got "0"\)$/),
      expect.stringMatching(/^OPENAI_RESPONSE_FORMAT: .* \(got "yaml"\)$/),
    ]);
  });

  test('the total bound must leave the step time to write the fallback', () => {
    expect(problems({ OPENAI_TOTAL_TIMEOUT_MS: '120000' })).toEqual([
      'OPENAI_TOTAL_TIMEOUT_MS: must be below STEP_TIMEOUT_MS (120000) (got "120000")',
    ]);
    expect(problems({ OPENAI_TOTAL_TIMEOUT_MS: '5000', STEP_TIMEOUT_MS: '6000' })).toEqual([]);
  });
});
