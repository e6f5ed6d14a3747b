/**
 * The workbench with workflows of every kind, in real Chromium against a
 * real server: a healthy pet's creation with both of its streams (the
 * messages and the profile as the model writes it, bio draft included),
 * then an adoption applied for through the pet card's form, with its
 * progress, score, audit entries, decision (by the documented score rule)
 * and trace; bad input and a pet adopted meanwhile answered next to the form.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import type { Home } from '../../server/app/pet-shelter/adoptions/schemas.js';
import { APPROVAL_SCORE, homeMatch, REVIEW_SCORE } from '../../server/app/pet-shelter/adoptions/score.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationData } from '../../shared/pet-creation.js';
import { PROFILE_FIELDS, type PetInput, type Profile } from '../../shared/pet.js';
import { launchChromium } from '../support/chromium.js';
import { reply, startFakeOpenAI } from '../support/fake-openai.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ensureWorkbenchBuilt } from './workbench-build.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const WAIT = { timeout: 10_000 };
/** Each test follows two workflows to their end through the page. */
const TEST_TIMEOUT_MS = 60_000;

const buddy: PetInput = { name: 'Buddy', species: 'dog', ageMonths: 12 };
const mia: PetInput = { name: 'Mia', species: 'cat', ageMonths: 30 };
const max: PetInput = { name: 'Max', species: 'dog', ageMonths: 24, symptoms: ['coughing'] };

const MODEL_PROFILE: Profile = {
  bio: 'Buddy is a bouncy one-year-old dog who greets everyone at the gate. He adores fetch, naps in the sun and is learning to walk nicely on a lead.',
  breedGuess: 'Border Collie mix',
  temperamentTags: ['playful', 'friendly', 'energetic'],
  adopterHints: 'Buddy needs daily exercise and a patient owner; a garden would make him very happy.',
};
const ANSWER = JSON.stringify(MODEL_PROFILE);

/** Chromium reports every refused call (the form's bad input, a conflict) as a console error. */
const REFUSED = (status: number) =>
  new RegExp(`^Failed to load resource: the server responded with a status of ${status}\\b`);

/** The pet card's status. */
const STATUS = 'dt:text-is("Status") + dd';

let browser: Browser;

beforeAll(async () => {
  await Promise.all([ensureWorkbenchBuilt(), mkdir(ARTIFACTS, { recursive: true })]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** A fresh page that records every script error and console error (a CSP violation is one). */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(url);
  return { page, problems };
}

async function createThroughForm(page: Page, pet: PetInput): Promise<void> {
  await page.getByLabel('Name').fill(pet.name);
  await page.getByLabel('Species').selectOption(pet.species);
  await page.getByLabel('Age (months)').fill(String(pet.ageMonths));
  if (pet.symptoms)
    await page.getByLabel('Symptoms (optional, comma-separated)').fill(pet.symptoms.join(', '));
  await page.getByRole('button', { name: 'Create pet' }).click();
}

async function applyThroughForm(
  page: Page,
  applicant: { readonly name: string; readonly email: string },
  home: Home,
): Promise<void> {
  await page.getByLabel('Applicant').fill(applicant.name);
  await page.getByLabel('Email').fill(applicant.email);
  await page.getByLabel('Home type').selectOption(home.type);
  await page.getByLabel('Has a garden').setChecked(home.hasGarden);
  await page.getByLabel('Other pets at home').setChecked(home.otherPets);
  await page.getByRole('button', { name: 'Submit application' }).click();
}

const waitForText = (page: Page, id: string, text: string) =>
  page.waitForFunction(
    ([elementId, expected]) => document.getElementById(elementId)?.textContent === expected,
    [id, text] as const,
    WAIT,
  );

/** The selected workflow's trace id, once the list marks it (an earlier rendering may mark the one before). */
async function selectedTraceId(page: Page, kind: 'petCreation' | 'adoption' | 'treatment'): Promise<string> {
  const selected = page.locator(`.workflow[aria-current="true"][data-kind="${kind}"]`);
  await selected.waitFor(WAIT);
  return (await selected.getAttribute('data-trace-id')) ?? '';
}

/** The stored log of one workflow, for comparing with what the page shows. */
async function storedLog(ctx: TestApp, traceId: string) {
  const { events } = await ctx.app.engine.backends.streamStorage.readAfter(traceId, null);
  return events;
}

/** The profile section's rows, in page order. */
const shownProfile = (page: Page) =>
  page.$$eval('#profile-fields .profile-field', (rows) =>
    rows.map((row) => ({
      field: row.getAttribute('data-field'),
      draft: row.getAttribute('data-draft'),
      source: row.getAttribute('data-source'),
      value: row.querySelector('ul.field-value')
        ? Array.from(row.querySelectorAll('.field-value li')).map((li) => li.textContent)
        : (row.querySelector('.field-value')?.textContent ?? null),
    })),
  );

/** Waits for the trace to hold a finished run of each step, and returns the run labels. */
async function stepRuns(page: Page, count: number): Promise<string[]> {
  await page.waitForFunction(
    (expected) =>
      document.querySelectorAll('#step-runs .run').length === expected &&
      Array.from(document.querySelectorAll('#step-runs .run-status')).every((status) =>
        status.textContent?.startsWith('succeeded'),
      ),
    count,
    WAIT,
  );
  return (await page.locator('#step-runs .run-label').allTextContents()).sort();
}

describe('web workbench: workflows of every kind', () => {
  test(
    'shows a pet creation with both streams, then applies to adopt the healthy pet and shows the adoption to its decision',
    async () => {
      await using fake = await startFakeOpenAI();
      const release = createDeferred<void>();
      // The model holds part-way into the bio, so its draft is on the page before the rest is written.
      fake.enqueue(
        reply.answer(ANSWER, {
          chunkSize: 4,
          holds: [{ at: ANSWER.indexOf('"bio"') + 40, until: release.promise }],
        }),
      );
      await using ctx = await startTestApp({ env: fake.env({ OPENAI_TIMEOUT_MS: '60000' }) });
      const { page, problems } = await openPage(ctx.url);

      await createThroughForm(page, buddy);
      const draft = page.locator('#profile-fields .profile-field[data-field="bio"][data-draft="true"]');
      await draft.waitFor(WAIT);
      const draftText = (await draft.locator('.field-value').textContent()) ?? '';
      expect(draftText.length).toBeGreaterThan(0);
      expect(draftText.length).toBeLessThan(MODEL_PROFILE.bio.length);
      expect(MODEL_PROFILE.bio.startsWith(draftText)).toBe(true);
      expect(await page.locator('#workflow-status').textContent()).toBe('Live');
      release.resolve();

      await waitForText(page, 'workflow-status', 'Finished');
      const creationTrace = await selectedTraceId(page, 'petCreation');
      expect(await page.locator('#detail-title').textContent()).toBe('Workflow for Buddy');

      // Both streams, each in its own section: the profile complete, from the model, in field order…
      expect(await shownProfile(page)).toEqual(
        PROFILE_FIELDS.map((field) => ({
          field,
          draft: 'false',
          source: 'model',
          value: MODEL_PROFILE[field],
        })),
      );
      // …and the messages, exactly the stored `petCreation` events, the finished one last.
      const creationLog = await storedLog(ctx, creationTrace);
      const shownMessages = await page.$$eval('#messages li', (items) =>
        items.map((li) => li.getAttribute('data-event-id')),
      );
      // A bio draft's message is listed once, however many drafts carry it.
      const listed = new Set<string>();
      const expectedMessages = creationLog
        .filter((event) => event.stream === 'petCreation')
        .filter((event) => {
          const data = event.data as PetCreationData | null;
          if (data?.partial === undefined) return true;
          const key = `${event.itemId}\u0000${data.message}`;
          if (listed.has(key)) return false;
          listed.add(key);
          return true;
        });
      expect(shownMessages).toEqual(expectedMessages.map((event) => event.eventId));
      expect(await page.locator('#messages .message-finished .msg').textContent()).toBe(
        'Pet creation workflow finished for Buddy',
      );
      expect(await page.locator('#overall-progress').getAttribute('value')).toBe('100');
      expect(await page.locator('#view-adoption').isHidden()).toBe(true);
      expect(await stepRuns(page, 2)).toEqual([
        'AiProfileEnrichment · attempt 1',
        'FeedingReminder · attempt 1',
      ]);
      const creationItem = page.locator(`.workflow[data-trace-id="${creationTrace}"]`);
      await creationItem.locator('.badge-kind').waitFor(WAIT);
      expect(await creationItem.locator('.badge-kind').textContent()).toBe('Pet creation');

      // The healthy pet's card offers the adoption form; a bad email is named next to it, and nothing starts.
      const card = page.locator('.pet-card');
      await card.waitFor(WAIT);
      expect(await card.locator(STATUS).textContent()).toBe('healthy');
      const applicant = { name: 'Ada Lovelace', email: 'not-an-email' };
      const home: Home = { type: 'house', hasGarden: true, otherPets: false };
      await applyThroughForm(page, applicant, home);
      const formError = page.locator('#adopt-error');
      await formError.waitFor(WAIT);
      expect(await formError.textContent()).toBe('Email: must be an email address');
      expect(await page.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');
      expect(await page.getByLabel('Applicant').getAttribute('aria-invalid')).toBeNull();
      await page.locator('.pet-card').screenshot({ path: `${ARTIFACTS}workbench-adopt-form.png` });
      expect(await page.locator('#detail-title').textContent()).toBe('Workflow for Buddy');
      expect((await ctx.client.trpc.traces.list.query()).items).toHaveLength(1);

      // A good application opens its workflow: both of its streams to the decision the score rule gives.
      const expected = homeMatch(buddy.species, home);
      expect(expected.score).toBeGreaterThanOrEqual(APPROVAL_SCORE);
      await page.getByLabel('Email').fill('ada@example.org');
      await page.getByRole('button', { name: 'Submit application' }).click();
      await waitForText(page, 'detail-title', 'Adoption of Buddy');
      await waitForText(page, 'workflow-status', 'Finished');
      const decision = page.locator('#adoption-decision');
      await decision.waitFor(WAIT);
      const adoptionTrace = await selectedTraceId(page, 'adoption');
      expect(adoptionTrace).not.toBe(creationTrace);
      const { items: traces } = await ctx.client.trpc.traces.list.query();
      expect(traces.map((trace) => trace.flow).sort()).toEqual(['adoption', 'petCreation']);

      const pets = await ctx.client.pets.list.query();
      const stored = await ctx.app.engine.services.adoptions.findByTrace(adoptionTrace);
      expect(stored).toMatchObject({
        petId: pets.items[0]?.id,
        applicant: { name: 'Ada Lovelace', email: 'ada@example.org' },
        home,
        status: 'approved',
        score: expected.score,
      });
      expect(await decision.getAttribute('data-status')).toBe('approved');
      expect(await decision.textContent()).toBe(
        `Approved: home match score ${expected.score} is at least ${APPROVAL_SCORE}`,
      );
      expect(await page.locator('#adoption-score').getAttribute('data-score')).toBe(String(expected.score));
      expect(await page.locator('#adoption-score').textContent()).toBe(
        `Home match score: ${expected.score}/100`,
      );
      for (const stage of ['submitted', 'background', 'homeMatch', 'decision'])
        expect(await page.locator(`#adoption-progress-${stage}`).getAttribute('value')).toBe('100');
      expect(await page.locator('#overall-progress').getAttribute('value')).toBe('100');

      // Progress messages and audit entries: exactly what the server stored, in its order.
      const adoptionLog = await storedLog(ctx, adoptionTrace);
      expect(
        await page.$$eval('#adoption-messages li', (items) =>
          items.map((li) => ({
            eventId: li.getAttribute('data-event-id'),
            message: li.querySelector('.msg')?.textContent,
            finished: li.classList.contains('message-finished'),
          })),
        ),
      ).toEqual(
        adoptionLog
          .filter((event) => event.stream === 'adoptionProgress')
          .map((event) => ({
            eventId: event.eventId,
            message: (event.data as { message: string }).message,
            finished: event.kind === 'finished',
          })),
      );
      expect(await page.locator('#adoption-messages .message-finished .msg').textContent()).toBe(
        `Adoption application ${stored?.id} approved: Buddy goes home with Ada Lovelace`,
      );
      const audit = await page.$$eval('#adoption-audit li', (items) =>
        items.map((li) => ({
          itemId: li.getAttribute('data-item'),
          actor: li.querySelector('.audit-actor')?.textContent,
          action: li.querySelector('.audit-action')?.textContent,
          detail: li.querySelector('.audit-detail')?.textContent,
        })),
      );
      expect(audit).toEqual(
        adoptionLog
          .filter((event) => event.stream === 'adoptionAudit')
          .map((event) => ({ itemId: event.itemId, ...(event.data as object) })),
      );
      expect(audit.map((entry) => entry.action).sort()).toEqual(
        ['application.approved', 'application.received', 'background.cleared', 'homeMatch.scored'].sort(),
      );
      expect(audit.at(0)?.action).toBe('application.received');
      expect(audit.at(-1)?.action).toBe('application.approved');
      expect(audit.find((entry) => entry.action === 'homeMatch.scored')?.detail).toBe(
        `${expected.score}/100 for a dog (${expected.parts.join(', ')})`,
      );
      expect(await stepRuns(page, 2)).toEqual(['BackgroundCheck · attempt 1', 'HomeMatch · attempt 1']);
      expect(await page.locator('#view-petCreation').isHidden()).toBe(true);
      const adoptionItem = page.locator(`.workflow[data-trace-id="${adoptionTrace}"]`);
      await adoptionItem.locator('.badge-kind').waitFor(WAIT);
      expect(await adoptionItem.locator('.badge-kind').textContent()).toBe('Adoption');
      await page.screenshot({ path: `${ARTIFACTS}workbench-adoption.png`, fullPage: true });

      // Opened again from the list, the pet creation replays both streams; the pet is adopted now.
      await creationItem.click();
      await waitForText(page, 'detail-title', 'Workflow for Buddy');
      await waitForText(page, 'workflow-status', 'Finished');
      await page.locator('.pet-card').waitFor(WAIT);
      expect((await shownProfile(page)).map((row) => [row.field, row.draft])).toEqual(
        PROFILE_FIELDS.map((field) => [field, 'false']),
      );
      expect(await page.locator(`.pet-card ${STATUS}`).textContent()).toBe('adopted');
      expect(await page.locator('#adopt-form').count()).toBe(0);
      await page.screenshot({ path: `${ARTIFACTS}workbench-pet-creation.png`, fullPage: true });

      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(REFUSED(400));
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a rejected application shows why, and a pet adopted meanwhile is refused next to the form',
    async () => {
      await using ctx = await startTestApp();
      const { page, problems } = await openPage(ctx.url);
      await createThroughForm(page, mia);
      await waitForText(page, 'workflow-status', 'Finished');
      const creationTrace = await selectedTraceId(page, 'petCreation');
      // Without a model, every field comes from the fallback, once.
      await page.locator('.pet-card').waitFor(WAIT);
      expect((await shownProfile(page)).map((row) => [row.field, row.draft, row.source])).toEqual(
        PROFILE_FIELDS.map((field) => [field, 'false', 'fallback']),
      );

      const home: Home = { type: 'apartment', hasGarden: false, otherPets: true };
      const expected = homeMatch(mia.species, home);
      expect(expected.score).toBeLessThan(REVIEW_SCORE);
      await applyThroughForm(page, { name: 'Grace Hopper', email: 'grace@example.org' }, home);
      await waitForText(page, 'detail-title', 'Adoption of Mia');
      await waitForText(page, 'workflow-status', 'Finished');
      const decision = page.locator('#adoption-decision');
      await decision.waitFor(WAIT);
      expect(await decision.getAttribute('data-status')).toBe('rejected');
      expect(await decision.textContent()).toBe(
        `Rejected: home match score ${expected.score} is below ${REVIEW_SCORE}`,
      );
      expect(await page.locator('#adoption-score').getAttribute('data-score')).toBe(String(expected.score));
      expect(await page.locator('#adoption-audit li').last().getAttribute('data-action')).toBe(
        'application.rejected',
      );

      // Still healthy, so the card offers the form again; meanwhile someone else adopts Mia.
      await page.locator(`.workflow[data-trace-id="${creationTrace}"]`).click();
      await waitForText(page, 'detail-title', 'Workflow for Mia');
      await waitForText(page, 'workflow-status', 'Finished');
      await page.locator('#adopt-form').waitFor(WAIT);
      const pet = (await ctx.client.pets.list.query()).items[0];
      if (!pet) throw new Error('The pet was not stored');
      const other = await ctx.client.trpc.adoptions.submit.mutate({
        petId: pet.id,
        applicant: { name: 'Alan Turing', email: 'alan@example.org' },
        home: { type: 'house', hasGarden: true, otherPets: false },
      });
      await ctx.app.engine.workflows.onFinished(other.traceId);
      expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe('adopted');

      await applyThroughForm(page, { name: 'Grace Hopper', email: 'grace@example.org' }, home);
      const formError = page.locator('#adopt-error');
      await formError.waitFor(WAIT);
      expect(await formError.textContent()).toBe(
        `Pet Mia (ID: ${pet.id}) cannot be adopted: its status is "adopted", not "healthy"`,
      );
      expect(await page.locator('#detail-title').textContent()).toBe('Workflow for Mia');

      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(REFUSED(409));
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'treats an ill pet from its card: the wait shows what is awaited and from whom, the vet clears it, the pet is healthy; a second treatment is cancelled while it waits',
    async () => {
      await using ctx = await startTestApp();
      const { page, problems } = await openPage(ctx.url);
      await createThroughForm(page, max);
      await waitForText(page, 'workflow-status', 'Finished');
      expect(await page.locator(`.pet-card ${STATUS}`).textContent()).toBe('ill');
      await page.getByRole('button', { name: 'Start treatment' }).click();
      await waitForText(page, 'detail-title', 'Treatment of Max');
      const traceId = await selectedTraceId(page, 'treatment');

      const wait = page.locator('#waits-list .wait[data-name="vetClearance"][data-status="waiting"]');
      await wait.waitFor(WAIT);
      expect(await wait.textContent()).toMatch(
        /^vetClearance awaited from the vet \(step VetClearance\), until .+: waiting/,
      );
      expect(await page.locator('#treatment-messages .msg').allTextContents()).toEqual([
        'Treatment started for Max',
        'Waiting for a vet to clear Max (awaited: vetClearance, from the vet)',
      ]);
      expect(await page.locator('#cancel-workflow').isVisible()).toBe(true);

      await page.getByLabel('Note').fill('Lungs clear');
      await page.getByRole('button', { name: 'Clear', exact: true }).click();
      await waitForText(page, 'workflow-status', 'Finished');
      await page.locator('#waits-list .wait[data-status="received"]').waitFor(WAIT);
      expect(await page.locator('#waits-list .wait').textContent()).toContain(
        'answered by the vet: {"cleared":true,"note":"Lungs clear"}',
      );
      const log = await storedLog(ctx, traceId);
      expect(
        await page.$$eval('#treatment-messages li', (items) =>
          items.map((li) => li.getAttribute('data-event-id')),
        ),
      ).toEqual(log.map((event) => event.eventId));
      expect(await page.locator('#treatment-messages .msg').allTextContents()).toEqual([
        'Treatment started for Max',
        'Waiting for a vet to clear Max (awaited: vetClearance, from the vet)',
        'Vet cleared Max — “Lungs clear”',
        'Treatment workflow finished for Max',
      ]);
      await page.locator(`#treatment-pet ${STATUS}`).waitFor(WAIT);
      expect(await page.locator(`#treatment-pet ${STATUS}`).textContent()).toBe('healthy');
      expect(await page.locator('#cancel-workflow').isHidden()).toBe(true);
      // The trace shows the wait and the answer.
      // (in the timeline, which is folded)
      const inTimeline = (text: string) =>
        page.locator('#timeline li', { hasText: text }).waitFor({ ...WAIT, state: 'attached' });
      await inTimeline('VetClearance waits for vetClearance from vet');
      await inTimeline('vetClearance received from vet: {"cleared":true,"note":"Lungs clear"}');

      // Another ill pet, whose treatment is cancelled while it waits.
      await createThroughForm(page, { ...max, name: 'Rex' });
      await waitForText(page, 'detail-title', 'Workflow for Rex');
      await waitForText(page, 'workflow-status', 'Finished');
      await page.getByRole('button', { name: 'Start treatment' }).click();
      await waitForText(page, 'detail-title', 'Treatment of Rex');
      await page.locator('#waits-list .wait[data-status="waiting"]').waitFor(WAIT);
      await page.getByRole('button', { name: 'Cancel workflow' }).click();
      await waitForText(page, 'workflow-status', 'Cancelled');
      await page.locator('#waits-list .wait[data-status="cancelled"]').waitFor(WAIT);
      expect(await page.locator('#treatment-messages .msg').last().textContent()).toBe(
        'Treatment workflow for Rex was cancelled',
      );
      expect(problems).toEqual([]);
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an adoption whose home match needs staff waits for them: the page offers the decision, and shows it',
    async () => {
      await using ctx = await startTestApp();
      const { page, problems } = await openPage(ctx.url);
      await createThroughForm(page, mia);
      await waitForText(page, 'workflow-status', 'Finished');
      const home: Home = { type: 'farm', hasGarden: false, otherPets: false };
      const expected = homeMatch(mia.species, home);
      expect(expected.score).toBeGreaterThanOrEqual(REVIEW_SCORE);
      expect(expected.score).toBeLessThan(APPROVAL_SCORE);
      await applyThroughForm(page, { name: 'Grace Hopper', email: 'grace@example.org' }, home);
      await waitForText(page, 'detail-title', 'Adoption of Mia');
      const wait = page.locator('#waits-list .wait[data-name="staffDecision"][data-status="waiting"]');
      await wait.waitFor(WAIT);
      expect(await wait.textContent()).toMatch(/^staffDecision awaited from the staff \(step HomeMatch\)/);
      await page.getByLabel('Note').fill('No fence around the farm');
      await page.getByRole('button', { name: 'Reject' }).click();
      await waitForText(page, 'workflow-status', 'Finished');
      const decision = page.locator('#adoption-decision');
      await decision.waitFor(WAIT);
      expect(await decision.textContent()).toBe('Rejected: staff rejected it: No fence around the farm');
      expect(await page.locator('#adoption-audit li[data-item="review"]').getAttribute('data-action')).toBe(
        'review.reject',
      );
      await page.locator('#waits-list .wait[data-status="received"]').waitFor(WAIT);
      expect(await page.locator('#adoption-progress .bar label').allTextContents()).toEqual([
        'Submitted',
        'Background check',
        'Home match',
        'Staff review',
        'Decision',
      ]);
      expect(problems).toEqual([]);
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );
});
