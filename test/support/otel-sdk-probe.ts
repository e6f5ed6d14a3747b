/**
 * Run as its own process (`node --import tsx`): builds and closes an engine
 * without a trace endpoint, then one with, and prints after each whether
 * the OpenTelemetry SDK has been loaded into the process.
 */
import { createRequire } from 'node:module';

import { shelter } from '../../server/app/pet-shelter/application.js';
import { createEngine, createLogger, loadConfig } from '../../server/engine/index.js';

const modules = createRequire(import.meta.url).cache;
const sdkLoaded = () => Object.keys(modules).some((path) => path.includes('/@opentelemetry/sdk-trace/'));
const env = { STREAM_TOKEN_SECRET: 'probe-secret-that-is-at-least-32-characters' };
const log = createLogger({ level: 'silent' });

const plain = createEngine(loadConfig(env), log, shelter);
await plain.close();
const withoutEndpoint = sdkLoaded();

// Port 9 (discard): nothing is exported before close, and nothing listens.
const traced = createEngine(
  loadConfig({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }),
  log,
  shelter,
);
await traced.close();
process.stdout.write(`${JSON.stringify({ withoutEndpoint, withEndpoint: sdkLoaded() })}\n`);
