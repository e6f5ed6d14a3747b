/**
 * The PetStore contract, run against the in-memory store and the Redis one;
 * then what only a shared store can promise (several instances, one set of pets).
 */
import { randomUUID } from 'node:crypto';

import { afterAll, describe, expect, test } from 'vitest';

import type { PetInput } from '../../shared/pet.js';
import { RedisKeys } from '../../server/engine/backends/redis/keys.js';
import { MemoryPetStore } from '../../server/app/pet-shelter/pets/store/memory-pet-store.js';
import type { PetPage, PetStore } from '../../server/app/pet-shelter/pets/store/pet-store.js';
import { RedisPetStore } from '../../server/app/pet-shelter/pets/store/redis-pet-store.js';
import { buddy, luna, max } from '../support/pets.js';
import { redisFixture } from '../support/redis.js';

const redis = redisFixture();
afterAll(() => redis.cleanup());

const names = (page: PetPage) => page.items.map((p) => p.name);

/** A clock the test moves by hand. */
function manualClock(start = Date.parse('2030-01-01T00:00:00.000Z')) {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
}

const implementations: { name: string; create: (now: () => Date) => PetStore }[] = [
  { name: 'memory', create: (now) => new MemoryPetStore(now) },
  {
    name: 'redis',
    // A fresh prefix per store: ids start at 1 and listings see only this store's pets.
    create: (now) =>
      new RedisPetStore({
        client: redis.connect().commands,
        keyPrefix: new RedisKeys(`${redis.prefix}${randomUUID()}:`).appPrefix(),
        now,
      }),
  },
];

describe.each(implementations)('PetStore contract: $name', ({ create }) => {
  test('create assigns an id and status "new", keeps every field, and get returns the same pet', async () => {
    const clock = manualClock();
    const store = create(clock.now);
    const input: PetInput = { ...max, weightKg: 31.4159 };
    const pet = await store.create(input);
    expect(pet).toEqual({
      ...input,
      id: '1',
      status: 'new',
      createdAt: '2030-01-01T00:00:00.000Z',
      updatedAt: '2030-01-01T00:00:00.000Z',
    });
    expect(await store.get('1')).toEqual(pet);
    expect((await store.create(buddy)).id).toBe('2');
    expect(await store.get('404')).toBeNull();
  });

  test('update applies only the patch and bumps updatedAt; an unknown id gives null', async () => {
    const clock = manualClock();
    const store = create(clock.now);
    const pet = await store.create(luna);
    clock.advance(1500);
    const updated = await store.update(pet.id, { status: 'in_quarantine', notes: 'Welcome' });
    expect(updated).toEqual({
      ...pet,
      status: 'in_quarantine',
      notes: 'Welcome',
      updatedAt: '2030-01-01T00:00:01.500Z',
    });
    expect(await store.get(pet.id)).toEqual(updated);
    expect(await store.update('404', { status: 'ill' })).toBeNull();
    expect(await store.get('404')).toBeNull();
  });

  test('concurrent updates of different fields keep both', async () => {
    const store = create(manualClock().now);
    const pet = await store.create(buddy);
    const profile = {
      bio: 'A good dog',
      breedGuess: 'Mixed',
      temperamentTags: ['calm', 'kind', 'loyal'],
      adopterHints: 'Walks',
    };
    await Promise.all([
      store.update(pet.id, { status: 'healthy', nextFeedingAt: '2030-01-02T00:00:00.000Z' }),
      store.update(pet.id, { profile }),
    ]);
    expect(await store.get(pet.id)).toMatchObject({
      status: 'healthy',
      nextFeedingAt: '2030-01-02T00:00:00.000Z',
      profile,
    });
  });

  test('list gives the newest first, at most `limit`', async () => {
    const store = create(manualClock().now);
    for (const input of [max, luna, buddy]) await store.create(input);
    expect(names(await store.list({ limit: 10, cursor: null }))).toEqual(['Buddy', 'Luna', 'Max']);
    expect(names(await store.list({ limit: 2, cursor: null }))).toEqual(['Buddy', 'Luna']);
  });

  test('list pages with a cursor: each pet once, newest first, none repeated when pets are created meanwhile', async () => {
    const store = create(manualClock().now);
    for (let i = 1; i <= 7; i += 1) await store.create({ ...buddy, name: `Pet ${i}` });
    const first = await store.list({ limit: 3, cursor: null });
    expect(first).toEqual({ items: expect.any(Array), nextCursor: '5' });
    expect(names(first)).toEqual(['Pet 7', 'Pet 6', 'Pet 5']);
    await store.create({ ...buddy, name: 'Pet 8' });
    const second = await store.list({ limit: 3, cursor: first.nextCursor });
    expect(names(second)).toEqual(['Pet 4', 'Pet 3', 'Pet 2']);
    // The last page is full but nothing is older: no cursor.
    const last = await store.list({ limit: 1, cursor: second.nextCursor });
    expect(last).toEqual({ items: [expect.objectContaining({ name: 'Pet 1' })], nextCursor: null });
    // A page exactly as long as what is left ends the walk too.
    expect((await store.list({ limit: 4, cursor: '5' })).nextCursor).toBeNull();
    expect(await store.list({ limit: 4, cursor: '1' })).toEqual({ items: [], nextCursor: null });
    expect(names(await store.list({ limit: 2, cursor: '999' }))).toEqual(['Pet 8', 'Pet 7']);
  });

  test('nothing a caller holds changes a stored pet: neither the input nor a returned pet (a copy, or frozen)', async () => {
    const store = create(manualClock().now);
    const input = { ...max, symptoms: ['coughing'] };
    const pet = await store.create(input);
    input.symptoms.push('limping');
    const change = (symptoms: string[] | undefined) => {
      try {
        symptoms?.push('sneezing');
      } catch (error) {
        expect(error).toBeInstanceOf(TypeError);
      }
    };
    change(pet.symptoms);
    change((await store.get(pet.id))?.symptoms);
    change((await store.update(pet.id, { notes: 'x' }))?.symptoms);
    change((await store.list({ limit: 1, cursor: null })).items[0]?.symptoms);
    expect((await store.get(pet.id))?.symptoms).toEqual(['coughing']);
  });
});

describe('PetStore on Redis: several instances share one set of pets', () => {
  const keys = new RedisKeys(`${redis.prefix}shared:`);
  const [a, b] = [redis.connect(), redis.connect()].map(
    (c) => new RedisPetStore({ client: c.commands, keyPrefix: keys.appPrefix() }),
  );

  test('a pet created on one instance is read, updated and listed on another', async () => {
    if (!a || !b) throw new Error('two stores expected');
    const pet = await a.create(max);
    expect(await b.get(pet.id)).toEqual(pet);
    await b.update(pet.id, { status: 'ill' });
    expect((await a.get(pet.id))?.status).toBe('ill');
    expect((await a.list({ limit: 1, cursor: null })).items.map((p) => p.id)).toEqual([pet.id]);
  });

  test('concurrent creates on two instances never share an id', async () => {
    if (!a || !b) throw new Error('two stores expected');
    const created = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).create(buddy)));
    const ids = created.map((p) => p.id);
    expect(new Set(ids).size).toBe(40);
    const listed = (await b.list({ limit: 100, cursor: null })).items;
    expect(listed.map((p) => p.id)).toEqual(
      [...listed.map((p) => p.id)].sort((x, y) => Number(y) - Number(x)),
    );
  });
});
