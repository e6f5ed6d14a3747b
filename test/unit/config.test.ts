import { describe, expect, test } from 'vitest';

import { ConfigError, loadConfig } from '../../server/engine/config.js';

describe('loadConfig', () => {
  test('defaults: the embedded service on 127.0.0.1:3000 with no key and no Redis', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      feedingCheckDelayMs: 1000,
      redisUrl: undefined,
      openai: { apiKey: undefined, model: 'gpt-4o-mini', timeoutMs: 30_000 },
      streams: { tokenSecret: undefined, historyLimit: 1000 },
    });
  });

  test('how long waits for a person last: a week by default, from 1 ms to a year', () => {
    expect(loadConfig({})).toMatchObject({
      vetClearanceTimeoutMs: 604_800_000,
      adoptionDecisionTimeoutMs: 604_800_000,
    });
    for (const name of ['VET_CLEARANCE_TIMEOUT_MS', 'ADOPTION_DECISION_TIMEOUT_MS']) {
      expect(() => loadConfig({ [name]: '1' })).not.toThrow();
      expect(() => loadConfig({ [name]: '31536000000' })).not.toThrow();
      const problems = (value: string) => {
        try {
          loadConfig({ [name]: value });
          return [];
        } catch (error) {
          return (error as ConfigError).problems;
        }
      };
      expect(problems('0')).toEqual([`${name}: Too small: expected number to be >=1 (got "0")`]);
      expect(problems('31536000001')).toEqual([
        `${name}: Too big: expected number to be <=31536000000 (got "31536000001")`,
      ]);
      expect(problems('soon')).toHaveLength(1);
    }
    expect(loadConfig({ VET_CLEARANCE_TIMEOUT_MS: '60000' }).vetClearanceTimeoutMs).toBe(60_000);
  });

  test('empty variables count as unset', () => {
    expect(loadConfig({ PORT: '', OPENAI_API_KEY: '' })).toMatchObject({
      port: 3000,
      openai: { apiKey: undefined },
    });
  });

  test('values are parsed and coerced', () => {
    const config = loadConfig({
      PORT: '0',
      FEEDING_CHECK_DELAY_MS: '0',
      STREAM_TOKEN_PREVIOUS_SECRETS: ' old-one , older ',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(config.port).toBe(0);
    expect(config.feedingCheckDelayMs).toBe(0);
    expect(config.streams.previousTokenSecrets).toEqual(['old-one', 'older']);
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  test('every bad variable is reported at once, by name', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: '70000',
        FEEDING_CHECK_DELAY_MS: 'soon',
        STREAM_TOKEN_SECRET: 'short',
        REDIS_URL: 'not a url',
        LOG_LEVEL: 'loud',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    for (const name of ['PORT', 'FEEDING_CHECK_DELAY_MS', 'STREAM_TOKEN_SECRET', 'REDIS_URL', 'LOG_LEVEL']) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect((error as ConfigError).message).toMatch(/^Invalid configuration:\n {2}- /);
  });
});

describe('start-up with a bad configuration', () => {
  test('the process stops with a message naming each bad variable', async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync('npx', ['tsx', 'server/main.ts'], {
      env: { ...process.env, PORT: 'abc', STREAM_TOKEN_SECRET: 'short' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid configuration:');
    expect(result.stderr).toMatch(/PORT: .*\(got "abc"\)/);
    expect(result.stderr).toMatch(/STREAM_TOKEN_SECRET: must be at least 32 characters/);
  });
});
