import { describe, expect, test } from 'vitest';

import { collect } from '../support/async.js';
import { buddy, luna, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp } from '../support/test-app.js';

describe('pet creation over a real server and WebSocket', () => {
  test.each([max, luna, buddy])('$name: every step in order, then the subscription ends', async (pet) => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(pet);
    expect(created.pet).toMatchObject({ name: pet.name, species: pet.species, status: 'new' });
    expect(created.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(created.stream).toMatchObject({ itemId: 'message', groupId: created.traceId, eventId: '1' });

    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expectCompleteWorkflow(events, pet);

    const stored = await ctx.client.pets.get.query({ id: created.pet.id });
    expect(stored.status).toBe(pet.symptoms?.length ? 'ill' : 'healthy');
    expect(stored.notes).toBe("Welcome to our pet store! We'll take great care of this pet.");
    expect(stored.profile?.temperamentTags.length).toBeGreaterThanOrEqual(3);
  });
});
