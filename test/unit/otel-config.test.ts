import { describe, expect, test } from 'vitest';

import { ConfigError, loadConfig } from '../../server/engine/config.js';

/** The problems loadConfig reports for `env`, or [] when it accepts it. */
function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('OpenTelemetry configuration', () => {
  test('no endpoint: no trace export, whatever else is set', () => {
    expect(loadConfig({}).otel).toBeNull();
    expect(loadConfig({ OTEL_SERVICE_NAME: 'shelter', OTEL_EXPORTER_OTLP_HEADERS: 'a=b' }).otel).toBeNull();
  });

  test('the general endpoint gets the traces path; defaults for the rest', () => {
    for (const endpoint of ['http://collector:4318', 'http://collector:4318/']) {
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }).otel).toEqual({
        tracesUrl: 'http://collector:4318/v1/traces',
        headers: {},
        serviceName: 'pet-stream',
        exportDelayMs: 5000,
      });
    }
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example/base' }).otel?.tracesUrl).toBe(
      'https://otel.example/base/v1/traces',
    );
  });

  test('a traces endpoint is used as it is, and wins over the general one', () => {
    const traces = 'https://otel.example/custom/path';
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: traces }).otel?.tracesUrl).toBe(traces);
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: traces,
      }).otel?.tracesUrl,
    ).toBe(traces);
  });

  test('headers as key=value pairs, percent-decoded; service name and export delay', () => {
    const otel = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Basic%20dXNlcjpwdw==, x-tenant = shelter ',
      OTEL_SERVICE_NAME: 'shelter-eu',
      OTEL_BSP_SCHEDULE_DELAY: '0',
    }).otel;
    expect(otel).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      headers: { authorization: 'Basic dXNlcjpwdw==', 'x-tenant': 'shelter' },
      serviceName: 'shelter-eu',
      exportDelayMs: 0,
    });
  });

  test.each([
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'grpc://collector:4317'],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'ftp://collector/v1/traces'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'authorization'],
    ['OTEL_EXPORTER_OTLP_HEADERS', '=value'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'key='],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'bad key=value'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'key=%E0%A4%A'],
    ['OTEL_BSP_SCHEDULE_DELAY', '-1'],
    ['OTEL_BSP_SCHEDULE_DELAY', 'soon'],
    ['OTEL_SERVICE_NAME', 'x'.repeat(256)],
  ])('%s=%j is refused, by name', (name, value) => {
    const found = problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${name}: `));
  });

  test('the limits themselves are accepted', () => {
    expect(
      problems({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318',
        OTEL_BSP_SCHEDULE_DELAY: '0',
        OTEL_SERVICE_NAME: 'x'.repeat(255),
      }),
    ).toEqual([]);
  });
});
