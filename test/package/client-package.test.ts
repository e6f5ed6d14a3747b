/**
 * The client as another project gets it: built, packed with `npm pack`,
 * installed from the tarball into a scratch project (its dependencies from
 * npm's cache where they are, as `npm ci` left them), type-checked strictly
 * without skipLibCheck, and run against a real server on port 0.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { buildClient } from '../../scripts/build-client.js';
import { max } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';
import { watchWorkflow } from '../support/workflow-watch.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const SETUP_TIMEOUT = 180_000;

/** The repository's installed version of a package: what npm's cache holds. */
async function installedVersion(name: string): Promise<string> {
  const manifest = JSON.parse(
    await readFile(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
  ) as {
    readonly version: string;
  };
  return `${name}@${manifest.version}`;
}

/** The scratch project's program: a pet created and its workflow watched through the installed package. */
const MAIN = `
import WebSocket from 'ws';
import { createClient, WatchError, type PetClientError, type WorkflowEvent } from '@pet-stream/client';

const [url = ''] = process.argv.slice(2);
const client = createClient({
  url,
  WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  retryDelayMs: () => 10,
});
const created = await client.pets.create.mutate(${JSON.stringify(max)});
const stages: string[] = [];
const events: WorkflowEvent<'petCreation'>[] = [];
for await (const event of client.watch('petCreation', created.traceId, created.streamToken)) {
  events.push(event);
  if (event.stream === 'petCreation' && event.data?.stage) stages.push(event.data.stage);
}
const pet = await client.pets.get.query({ id: created.pet.id });
let refused = '';
try {
  for await (const event of client.watch('petCreation', created.traceId, 'v1.forged')) void event;
} catch (error) {
  if (error instanceof WatchError) refused = error.code;
}
let invalid: unknown = null;
try {
  await client.pets.create.mutate({ name: '', species: 'dog', ageMonths: 1 });
} catch (error) {
  invalid = (error as PetClientError).data?.code;
}
await client.close();
console.log(JSON.stringify({ traceId: created.traceId, token: created.streamToken, events, stages, status: pet.status, refused, invalid }));
`;

/** Types that must hold for users, and mistakes that must not compile. */
const TYPES = `
import { createElement } from 'react';
import { createClient, type WorkflowEvent } from '@pet-stream/client';
import { PetClientProvider, useWorkflow, type WorkflowStatus } from '@pet-stream/client/react';

const client = createClient({ url: 'http://127.0.0.1:1' });

export function PetProgress(props: { readonly traceId: string; readonly token: string }) {
  const view = useWorkflow('petCreation', props.traceId, props.token, { streams: ['petProfile'] });
  const status: WorkflowStatus = view.status;
  const bio: string | string[] | undefined = view.items.petProfile?.['bio']?.value;
  const first: WorkflowEvent<'petCreation', 'petProfile'> | undefined = view.events[0];
  // @ts-expect-error a stream of another kind
  useWorkflow('petCreation', props.traceId, props.token, { streams: ['adoptionProgress'] });
  // @ts-expect-error no such workflow kind
  useWorkflow('petAdoption', props.traceId, props.token);
  return createElement('p', null, status, String(bio), first?.eventId);
}

export const app = createElement(PetClientProvider, { client }, createElement(PetProgress, { traceId: 't', token: 'k' }));

export async function mistakes() {
  // @ts-expect-error species is an enum
  await client.pets.create.mutate({ name: 'Rex', species: 'dragon', ageMonths: 3 });
  // @ts-expect-error no such procedure
  await client.pets.remove.mutate({ id: '1' });
  for await (const event of client.watch('adoption', 't', 'k')) {
    // @ts-expect-error an adoption event has no petCreation stream
    if (event.stream === 'petCreation') return;
  }
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023', 'DOM'],
    types: ['node'],
    strict: true,
    skipLibCheck: false,
    outDir: 'out',
  },
  include: ['src'],
};

let scratch: string;
let packed: { readonly filename: string; readonly files: { readonly path: string }[] };

beforeAll(async () => {
  await buildClient();
  scratch = await mkdtemp(path.join(tmpdir(), 'pet-stream-client-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: path.join(ROOT, 'client'),
  });
  const [pack] = JSON.parse(stdout) as (typeof packed)[];
  if (!pack) throw new Error(`npm pack printed no package: ${stdout}`);
  packed = pack;
  await mkdir(path.join(scratch, 'src'));
  await writeFile(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', type: 'module' }));
  await writeFile(path.join(scratch, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  await writeFile(path.join(scratch, 'src/main.ts'), MAIN);
  await writeFile(path.join(scratch, 'src/types.ts'), TYPES);
  const extras = await Promise.all(
    ['ws', '@types/ws', '@types/node', 'react', '@types/react'].map(installedVersion),
  );
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      path.join(scratch, packed.filename),
      ...extras,
    ],
    { cwd: scratch },
  );
}, SETUP_TIMEOUT);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the installable client package', () => {
  test('ships only browser-safe client JavaScript and its declarations, no server code', async () => {
    const paths = packed.files.map((file) => file.path).sort();
    expect(paths).toContain('dist/js/client/index.js');
    expect(paths).toContain('dist/js/client/react.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('dist/react.d.ts');
    for (const file of paths)
      expect(file).toMatch(
        /^(package\.json|dist\/(index|react)\.d\.ts|dist\/js\/(client|shared)\/[\w-]+\.js)$/,
      );
    const installed = path.join(scratch, 'node_modules/@pet-stream/client');
    for (const file of paths.filter((p) => p !== 'package.json')) {
      const text = await readFile(path.join(installed, file), 'utf8');
      expect(text, file).not.toMatch(
        /from ['"]node:|import\(["']node:|\.\.\/server\/|from ['"](ws|ioredis|pino)['"]/,
      );
    }
  });

  test('type-checks a consumer strictly, skipLibCheck off, mistakes refused', async () => {
    // A failing check throws with tsc's messages; an unused @ts-expect-error fails it too.
    await expect(run(process.execPath, [TSC, '-p', scratch])).resolves.toBeDefined();
  });

  test('runs against a real server: creates a pet, watches it to the end, typed errors', async () => {
    await using ctx = await startTestApp();
    const { stdout } = await run(process.execPath, [path.join(scratch, 'out/main.js'), ctx.url], {
      cwd: scratch,
    });
    const result = JSON.parse(stdout) as {
      readonly traceId: string;
      readonly token: string;
      readonly events: unknown[];
      readonly stages: string[];
      readonly status: string;
      readonly refused: string;
      readonly invalid: unknown;
    };
    // Exactly what the server sends for the workflow, in its order, each once.
    const server = await watchWorkflow(ctx.url, 'ws', { traceId: result.traceId, token: result.token });
    expect(server.events.at(-1)).toMatchObject({ kind: 'finished' });
    expect(result.events).toEqual(server.events);
    expect(result.stages.at(0)).toBe('created');
    expect(result.stages.at(-1)).toBe('finished');
    expect(result.status).toBe('ill');
    expect(result.refused).toBe('UNAUTHORIZED');
    expect(result.invalid).toBe('BAD_REQUEST');
  });
});
