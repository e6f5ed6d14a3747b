/**
 * The React example (`/examples/react/`) in headless Chromium: a pet
 * created through its form, its workflow shown live by `useWorkflow`, the
 * connection cut mid-workflow, and what the page ends with compared with
 * what the server sends.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import { transformer } from '../../shared/transformer.js';
import { launchChromium } from '../support/chromium.js';
import { gatedSteps } from '../support/gated-steps.js';
import { luna, max } from '../support/pets.js';
import type { PetInput } from '../../shared/pet.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startTestApp } from '../support/test-app.js';
import { watchWorkflow } from '../support/workflow-watch.js';
import { ensureReactExampleBuilt } from './workbench-build.js';

const WAIT = { timeout: 10_000 };
const STREAMS = ['petCreation', 'petProfile'];

let browser: Browser;

beforeAll(async () => {
  await ensureReactExampleBuilt();
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** How Chromium itself reports a failed or cut connection: expected here, and not the page's doing. */
const NETWORK_NOTICE = /^(Failed to load resource|WebSocket connection to .* failed)/;

/** A fresh page that fails the test on any script or console error (a React key warning is one). */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !NETWORK_NOTICE.test(message.text())) problems.push(message.text());
  });
  await page.goto(url);
  return { page, problems };
}

type Created = { readonly traceId: string; readonly streamToken: string };

/** Fills the form and creates the pet; resolves with what `pets.create` answered the page. */
async function createPet(page: Page, pet: PetInput): Promise<Created> {
  await page.getByLabel('Name').fill(pet.name);
  await page.getByLabel('Species').selectOption(pet.species);
  await page.getByLabel('Age (months)').fill(String(pet.ageMonths));
  await page.getByLabel('Symptoms (comma-separated)').fill((pet.symptoms ?? []).join(', '));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('pets.create')),
    page.getByRole('button', { name: 'Create pet' }).click(),
  ]);
  const [answer] = (await response.json()) as {
    result: { data: Parameters<typeof transformer.deserialize>[0] };
  }[];
  if (!answer) throw new Error('pets.create answered nothing');
  return transformer.deserialize(answer.result.data);
}

/** Records the id of every event row as it is added, to tell a list grown once from one redrawn. */
async function recordAddedRows(page: Page): Promise<void> {
  await page.evaluate(() => {
    const added: string[] = [];
    Object.assign(window, { addedRows: added });
    new MutationObserver((records) => {
      for (const record of records)
        for (const node of Array.from(record.addedNodes)) {
          if (!(node instanceof HTMLElement)) continue;
          const rows = node.matches('#events li') ? [node] : Array.from(node.querySelectorAll('#events li'));
          for (const row of rows) if (row instanceof HTMLElement) added.push(row.dataset['eventId'] ?? '');
        }
    }).observe(document.body, { childList: true, subtree: true });
  });
}

const status = (page: Page) => page.locator('#status').getAttribute('data-status');
const waitForStatus = (page: Page, expected: string) =>
  page.waitForFunction(
    (value) => document.getElementById('status')?.dataset['status'] === value,
    expected,
    WAIT,
  );

async function shownRows(page: Page) {
  return page.$$eval('#events li', (items) =>
    items.map((li) => ({
      eventId: li.dataset['eventId'],
      stream: li.dataset['stream'],
      kind: li.dataset['kind'],
    })),
  );
}

describe('React example in Chromium', () => {
  test.each(['ws', 'sse'] as const)(
    'shows a workflow live and, after a cut mid-workflow, resumes with nothing lost or repeated (%s)',
    async (transport) => {
      const enrichment = createDeferred<void>();
      await using ctx = await startTestApp({ steps: gatedSteps('AiProfileEnrichment', enrichment.promise) });
      const serverPort = Number(new URL(ctx.url).port);
      await using proxy = await startTcpProxy(serverPort);
      const { page, problems } = await openPage(`${proxy.url}/examples/react/?transport=${transport}`);

      await recordAddedRows(page);
      const created = await createPet(page, max);
      // The feeding step runs to its end; enrichment waits at the gate: the workflow is live, mid-way.
      await page.waitForFunction(
        () => document.querySelector('#progress-feeding')?.getAttribute('value') === '100',
        undefined,
        WAIT,
      );
      expect(await status(page)).toBe('live');
      const beforeCut = await shownRows(page);
      expect(beforeCut.length).toBeGreaterThan(0);

      // Cut every connection and refuse new ones; the rest of the workflow happens meanwhile.
      proxy.point(null);
      proxy.cut();
      await waitForStatus(page, 'reconnecting');
      enrichment.resolve();
      const server = await watchWorkflow(ctx.url, 'ws', {
        traceId: created.traceId,
        token: created.streamToken,
        streams: STREAMS,
      });
      expect(server.events.at(-1)).toMatchObject({ kind: 'finished' });
      expect(server.events.length).toBeGreaterThan(beforeCut.length);
      expect(await shownRows(page)).toEqual(beforeCut);

      proxy.point(serverPort);
      await waitForStatus(page, 'finished');
      const expected = server.events.map(({ eventId, stream, kind }) => ({ eventId, stream, kind }));
      expect(await shownRows(page)).toEqual(expected);
      // Each row added once, in order: nothing redrawn, nothing repeated.
      expect(await page.evaluate(() => (window as unknown as { addedRows: string[] }).addedRows)).toEqual(
        expected.map((event) => event.eventId),
      );
      expect(await page.locator('#progress-enrichment').getAttribute('value')).toBe('100');
      expect(
        await page.locator('#profile dd').evaluateAll((dds) => dds.map((dd) => dd.dataset['field'])),
      ).toEqual(['bio', 'breedGuess', 'temperamentTags', 'adopterHints']);
      await expect.poll(() => page.locator('#pet-status').textContent(), WAIT).toBe('Max is now ill');
      expect(problems).toEqual([]);
      await page.close();
    },
  );

  test('a new pet unmounts the previous watch: its subscription ends on the server', async () => {
    const enrichment = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('AiProfileEnrichment', enrichment.promise) });
    const { page, problems } = await openPage(`${ctx.url}/examples/react/`);
    const subscriptions = async () => (await ctx.client.trpc.system.stats.query()).activeSubscriptions.total;

    await createPet(page, max);
    await waitForStatus(page, 'live');
    // What one watch of the page counts (its streams are counted one by one).
    await expect.poll(subscriptions, WAIT).toBeGreaterThan(0);
    const oneWatch = await subscriptions();

    // Both workflows stay open at the gate: only an unmount ends the first watch.
    await createPet(page, luna);
    await page.waitForFunction(
      () => document.getElementById('workflow-title')?.textContent === 'Luna',
      undefined,
      WAIT,
    );
    await waitForStatus(page, 'live');
    await expect.poll(subscriptions, WAIT).toBe(oneWatch);
    expect(await ctx.client.trpc.system.stats.query()).toMatchObject({ workflows: { running: 2 } });

    enrichment.resolve();
    await waitForStatus(page, 'finished');
    await expect.poll(subscriptions, WAIT).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  test('a refused watch shows the error status with the reason', async () => {
    await using ctx = await startTestApp();
    const { page, problems } = await openPage(`${ctx.url}/examples/react/`);
    // The page's own create call answers with a forged token: the watch is refused.
    await page.route('**/trpc/pets.create**', async (route) => {
      const response = await route.fetch();
      const [answer] = (await response.json()) as { result: { data: { json: { streamToken: string } } } }[];
      if (!answer) throw new Error('pets.create answered nothing');
      answer.result.data.json.streamToken = 'v1.forged';
      await route.fulfill({ response, json: [answer] });
    });
    await createPet(page, max);
    await waitForStatus(page, 'error');
    expect(await page.locator('#error').textContent()).toMatch(/token/i);
    expect(problems).toEqual([]);
    await page.close();
  });
});
