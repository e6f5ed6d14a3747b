import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep } from '../../server/engine/index.js';
import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { launchChromium } from '../support/chromium.js';
import { max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp } from '../support/test-app.js';
import { ensureWorkbenchBuilt } from './workbench-build.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const WAIT = { timeout: 10_000 };

/** A step that holds the workflow open until the test lets it go, so "live" can be observed. */
function gateStep() {
  const open = createDeferred<void>();
  const reached = createDeferred<void>();
  const step = defineStep({
    name: 'Gate',
    title: 'Gate',
    subscribes: 'pet.created',
    topics: petTopics,
    streams: { petCreation: petCreationStream },
    async handler() {
      reached.resolve();
      await open.promise;
    },
  });
  return { step, open: () => open.resolve(), reached: reached.promise };
}

let browser: Browser;

beforeAll(async () => {
  await Promise.all([ensureWorkbenchBuilt(), mkdir(ARTIFACTS, { recursive: true })]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** A fresh page that fails the test on any script error or console error (a CSP violation is one). */
async function openPage(
  url: string,
  viewport = { width: 1280, height: 900 },
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(url);
  // Records every message as it is added, to tell live arrival from a list drawn at the end.
  await page.evaluate(() => {
    const added: string[] = [];
    Object.assign(window, { addedMessages: added });
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of Array.from(record.addedNodes)) {
          if (node instanceof HTMLElement) added.push(node.querySelector('.msg')?.textContent ?? '');
        }
      }
    }).observe(document.getElementById('messages') ?? document.body, { childList: true });
  });
  return { page, problems };
}

/** The stream as the page shows it, as events, for the same checks as the API's. */
async function shownEvents(page: Page): Promise<PetCreationEvent[]> {
  const rows = await page.$$eval('#messages li', (items) =>
    items.map((li) => ({
      eventId: li.getAttribute('data-event-id') ?? '',
      itemId: li.getAttribute('data-item') ?? '',
      finished: li.classList.contains('message-finished'),
      message: li.querySelector('.msg')?.textContent ?? '',
      time: li.querySelector('time')?.getAttribute('datetime') ?? '',
    })),
  );
  return rows.map((row) => ({
    eventId: row.eventId,
    stream: 'petCreation',
    groupId: '',
    itemId: row.itemId,
    kind: row.finished ? 'finished' : 'set',
    data: { message: row.message },
    time: row.time,
  }));
}

async function createThroughForm(page: Page): Promise<void> {
  await page.getByLabel('Name').fill(max.name);
  await page.getByLabel('Species').selectOption(max.species);
  await page.getByLabel('Age (months)').fill(String(max.ageMonths));
  await page.getByLabel('Symptoms (optional, comma-separated)').fill((max.symptoms ?? []).join(', '));
  await page.getByRole('button', { name: 'Create pet' }).click();
}

const messageCount = (page: Page) => page.locator('#messages li').count();

describe('web workbench in Chromium', () => {
  test('creates a pet through the form and shows its stream live, in order, to the finish', async () => {
    const gate = gateStep();
    await using ctx = await startTestApp({ steps: [...petCreationWorkflow.steps, gate.step] });
    const { page, problems } = await openPage(ctx.url);

    await createThroughForm(page);
    await gate.reached;
    // Both real steps have streamed everything; the gate still holds the workflow open.
    await page.waitForFunction(
      () => document.querySelectorAll('#messages li').length === 10,
      undefined,
      WAIT,
    );
    expect(await page.locator('#workflow-status').textContent()).toBe('Live');
    expect(await page.locator('#messages .message-finished').count()).toBe(0);
    expect(await page.locator('#progress-feeding').getAttribute('value')).toBe('100');

    gate.open();
    await page.waitForFunction(
      () => document.getElementById('workflow-status')?.textContent === 'Finished',
      undefined,
      WAIT,
    );
    const events = await shownEvents(page);
    expectCompleteWorkflow(events, max);
    // Added one by one, in that order, never redrawn.
    expect(
      await page.evaluate(() => (window as unknown as { addedMessages: string[] }).addedMessages),
    ).toEqual(events.map((e) => e.data?.message));

    // The final pet card, the trace's step runs and the analytics.
    await page.locator('.pet-card').waitFor(WAIT);
    expect(await page.locator('.pet-card').textContent()).toContain('ill');
    await page.waitForFunction(
      () => document.querySelectorAll('#step-runs .run').length === 3,
      undefined,
      WAIT,
    );
    const runs = await page.locator('#step-runs .run-label').allTextContents();
    expect(runs.sort()).toEqual([
      'AiProfileEnrichment · attempt 1',
      'FeedingReminder · attempt 1',
      'Gate · attempt 1',
    ]);
    await page.waitForFunction(
      () => document.getElementById('stats')?.textContent?.includes('Workflows finished1') ?? false,
      undefined,
      WAIT,
    );
    expect(await page.locator('.workflow[aria-current="true"] .workflow-name').textContent()).toBe('Max');

    // Every control is labelled; the stream list is announced.
    expect(
      await page.$$eval('input, select', (els) => els.every((el) => (el as HTMLInputElement).labels?.length)),
    ).toBe(true);
    expect(await page.locator('#messages').getAttribute('aria-live')).toBe('polite');

    await page.screenshot({ path: `${ARTIFACTS}workbench.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  test('resumes the stream after the connection drops, with nothing lost or repeated', async () => {
    const gate = gateStep();
    await using ctx = await startTestApp({ steps: [...petCreationWorkflow.steps, gate.step] });
    const { page } = await openPage(ctx.url);
    await page.evaluate(() => {
      const states: string[] = [];
      Object.assign(window, { connectionStates: states });
      const target = document.getElementById('connection-state');
      if (target) {
        new MutationObserver(() => states.push(target.dataset['state'] ?? '')).observe(target, {
          attributes: true,
        });
      }
    });

    await createThroughForm(page);
    await gate.reached;
    await page.waitForFunction(
      () => document.querySelectorAll('#messages li').length === 10,
      undefined,
      WAIT,
    );

    ctx.app.destroyConnections();
    await page.waitForFunction(
      () => (window as unknown as { connectionStates: string[] }).connectionStates.includes('reconnecting'),
      undefined,
      WAIT,
    );
    await page.waitForFunction(
      () => document.getElementById('connection-state')?.dataset['state'] === 'open',
      undefined,
      WAIT,
    );
    gate.open();
    await page.waitForFunction(
      () => document.getElementById('workflow-status')?.textContent === 'Finished',
      undefined,
      WAIT,
    );
    expectCompleteWorkflow(await shownEvents(page), max);
    expect(await messageCount(page)).toBe(11);
    await page.close();
  });

  test('fits a narrow screen without sideways scrolling', async () => {
    await using ctx = await startTestApp();
    const { page, problems } = await openPage(ctx.url, { width: 375, height: 740 });
    await createThroughForm(page);
    await page.waitForFunction(
      () => document.getElementById('workflow-status')?.textContent === 'Finished',
      undefined,
      WAIT,
    );
    await page.locator('.pet-card').waitFor(WAIT);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}workbench-narrow.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  test('a bad form entry is named before anything is sent', async () => {
    await using ctx = await startTestApp();
    const { page } = await openPage(ctx.url);
    await page.getByLabel('Age (months)').fill('700');
    await page.getByRole('button', { name: 'Create pet' }).click();
    const error = page.getByRole('alert');
    await error.waitFor(WAIT);
    expect(await error.textContent()).toMatch(/^Name: .+\. Age: .+/);
    expect((await ctx.client.pets.list.query()).items).toEqual([]);
    await page.close();
  });
});
