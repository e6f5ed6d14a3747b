import { getEventListeners } from 'node:events';

import { describe, expect, test } from 'vitest';

import {
  SubscriberOverflow,
  SubscriptionQueue,
} from '../../server/engine/subscriptions/subscription-queue.js';

const done = { value: undefined, done: true };

describe('SubscriptionQueue: the bounded bridge from listeners to a subscription', () => {
  test('holds exactly its limit of unread items; one more fails it with SubscriberOverflow, dropping the rest', async () => {
    const queue = new SubscriptionQueue<number>(3);
    for (const n of [1, 2, 3]) queue.push(n);
    expect(queue.size).toBe(3);
    expect(await queue.next()).toEqual({ value: 1, done: false });
    queue.push(4);
    queue.push(5);
    expect(queue.size).toBe(0);
    const error = await queue.next().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SubscriberOverflow);
    expect(error).toMatchObject({
      name: 'SubscriberOverflow',
      message: 'subscriber fell more than 3 events behind',
      limit: 3,
    });
  });

  test('an item pushed while a reader waits goes straight to it, whatever the limit', async () => {
    const queue = new SubscriptionQueue<string>(1);
    const waiting = queue.next();
    queue.push('a');
    expect(await waiting).toEqual({ value: 'a', done: false });
    queue.push('b');
    expect(await queue.next()).toEqual({ value: 'b', done: false });
  });

  test('end lets the queued items be read, then every read is done; nothing pushed after counts', async () => {
    const queue = new SubscriptionQueue<number>(10);
    queue.push(1);
    queue.end();
    queue.push(2);
    expect(await queue.next()).toEqual({ value: 1, done: false });
    expect(await queue.next()).toEqual(done);
    expect(await queue.next()).toEqual(done);
  });

  test('only the first end counts: an error given to a later one is not thrown', async () => {
    const queue = new SubscriptionQueue<number>(10);
    queue.push(1);
    queue.end();
    queue.end(new Error('too late'));
    expect(await queue.next()).toEqual({ value: 1, done: false });
    expect(await queue.next()).toEqual(done);
  });

  test('a reader waiting when the queue ends is told it is done; one waiting when it fails gets the error', async () => {
    const ending = new SubscriptionQueue<number>(10);
    const waitingForEnd = ending.next();
    ending.end();
    expect(await waitingForEnd).toEqual(done);

    const failing = new SubscriptionQueue<number>(10);
    const waitingForFailure = failing.next();
    const error = new Error('gone');
    failing.fail(error);
    await expect(waitingForFailure).rejects.toBe(error);
    await expect(failing.next()).rejects.toBe(error);
  });

  test('an abort signal ends it, also one aborted before the queue was made; return() ends it too', async () => {
    const controller = new AbortController();
    const queue = new SubscriptionQueue<number>(10, controller.signal);
    const waiting = queue.next();
    controller.abort();
    expect(await waiting).toEqual(done);

    const late = new SubscriptionQueue<number>(10, AbortSignal.abort());
    late.push(1);
    expect(await late.next()).toEqual(done);

    const returned = new SubscriptionQueue<number>(10);
    expect(await returned.return()).toEqual(done);
    returned.push(1);
    expect(await returned.next()).toEqual(done);
  });

  test('iterates with for await until it ends', async () => {
    const queue = new SubscriptionQueue<number>(10);
    for (const n of [1, 2, 3]) queue.push(n);
    queue.end();
    const seen: number[] = [];
    for await (const n of queue) seen.push(n);
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('SubscriptionQueue and its signal', () => {
  test('a queue that ends or fails stops listening to the signal (readers make new queues on it)', () => {
    const controller = new AbortController();
    for (let i = 0; i < 5; i += 1) {
      const queue = new SubscriptionQueue<number>(1, controller.signal);
      queue.push(1);
      queue.push(2);
    }
    const ended = new SubscriptionQueue<number>(1, controller.signal);
    ended.end();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('once its signal has aborted it, the signal holds no listener of it', async () => {
    const controller = new AbortController();
    const queue = new SubscriptionQueue<number>(10, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(await queue.next()).toEqual(done);
  });
});
