import { describe, expect, test } from 'vitest';

import {
  initialWorkflowView,
  nextWorkflowView,
  type WorkflowView,
  type WorkflowViewAction,
} from '../../client/workflow-view.js';
import type { StreamEvent } from '../../shared/stream-event.js';

type Data = { readonly message?: string; readonly stage?: string; readonly progress?: number };
type Event = StreamEvent<Data>;

let nextId = 0;
function event(fields: Partial<Event> & Pick<Event, 'itemId'>): Event {
  nextId += 1;
  return {
    eventId: String(nextId),
    stream: 'petCreation',
    groupId: 'g',
    kind: 'set',
    data: { message: `m${nextId}` },
    time: '2026-01-01T00:00:00.000Z',
    ...fields,
  };
}

function fold(actions: readonly WorkflowViewAction<Event>[]): WorkflowView<Event> {
  return actions.reduce(nextWorkflowView<Event>, initialWorkflowView<Event>());
}

const received = (e: Event): WorkflowViewAction<Event> => ({ type: 'event', event: e });

describe('a workflow view folded from its events', () => {
  test('starts connecting and empty', () => {
    expect(initialWorkflowView()).toEqual({
      events: [],
      items: {},
      ephemeral: {},
      progress: {},
      status: 'connecting',
      error: null,
      failures: 0,
      lastEventId: null,
    });
  });

  test("keeps every event in order, each item's current value by stream, and each stage's last progress", () => {
    const events = [
      event({ itemId: 'a', data: { message: 'first', stage: 'feeding', progress: 25 } }),
      event({ itemId: 'bio', stream: 'petProfile', data: { message: 'draft' } }),
      event({ itemId: 'a', data: { message: 'second', stage: 'feeding', progress: 60 } }),
      event({ itemId: 'b', data: { message: 'no stage', progress: 10 } }),
      event({ itemId: 'c', data: { message: 'no progress', stage: 'enrichment' } }),
    ];
    const view = fold(events.map(received));
    expect(view.events).toEqual(events);
    expect(view.items).toEqual({
      petCreation: {
        a: { message: 'second', stage: 'feeding', progress: 60 },
        b: { message: 'no stage', progress: 10 },
        c: { message: 'no progress', stage: 'enrichment' },
      },
      petProfile: { bio: { message: 'draft' } },
    });
    expect(view.progress).toEqual({ feeding: 60, petCreation: 10 });
    expect(view).toMatchObject({ status: 'live', lastEventId: events.at(-1)?.eventId });
  });

  test('a delete removes the item; a reset starts the view again from what follows', () => {
    const kept = event({ itemId: 'b' });
    const afterDelete = fold([
      received(event({ itemId: 'a' })),
      received(kept),
      received(event({ itemId: 'a', kind: 'delete', data: null })),
    ]);
    expect(afterDelete.items).toEqual({ petCreation: { b: kept.data } });
    expect(afterDelete.events).toHaveLength(3);

    const reset = event({ itemId: '', kind: 'reset', data: null, eventId: '0' });
    const after = event({ itemId: 'c', data: { stage: 'feeding', progress: 5 } });
    const view = [received(reset), received(after)].reduce(nextWorkflowView<Event>, afterDelete);
    expect(view.events).toEqual([after]);
    expect(view.items).toEqual({ petCreation: { c: after.data } });
    expect(view.progress).toEqual({ feeding: 5 });
    expect(view.lastEventId).toBe(after.eventId);
  });

  test('follows the connection: connecting, live, reconnecting with the failure, live again', () => {
    const lost = new Error('socket closed');
    const states: WorkflowViewAction<Event>[] = [
      { type: 'state', change: { state: 'connecting', failures: 1, error: lost } },
      { type: 'state', change: { state: 'open', failures: 0, error: null } },
      { type: 'state', change: { state: 'reconnecting', failures: 2, error: lost } },
    ];
    expect(fold(states.slice(0, 1))).toMatchObject({ status: 'connecting', failures: 1, error: lost });
    expect(fold(states.slice(0, 2))).toMatchObject({ status: 'live', failures: 0, error: null });
    const reconnecting = fold(states);
    expect(reconnecting).toMatchObject({ status: 'reconnecting', failures: 2, error: lost });
    // The next event means the watch is back.
    expect(nextWorkflowView(reconnecting, received(event({ itemId: 'a' })))).toMatchObject({
      status: 'live',
      failures: 0,
      error: null,
    });
  });

  test('finished after the finished event, and nothing changes it after', () => {
    const finished = event({ itemId: 'workflow', kind: 'finished', data: { message: 'done' } });
    const view = fold([received(event({ itemId: 'a' })), received(finished)]);
    expect(view).toMatchObject({ status: 'finished', lastEventId: finished.eventId });
    expect(view.items['petCreation']).toMatchObject({ workflow: { message: 'done' } });
    const closed: WorkflowViewAction<Event> = {
      type: 'state',
      change: { state: 'closed', failures: 0, error: null },
    };
    expect(nextWorkflowView(view, closed)).toBe(view);
    expect(nextWorkflowView(view, { type: 'failed', error: new Error('late') })).toBe(view);
  });

  test('an error ends it with the reason; a closed watch state alone changes nothing', () => {
    const closed: WorkflowViewAction<Event> = {
      type: 'state',
      change: { state: 'closed', failures: 0, error: null },
    };
    const live = fold([received(event({ itemId: 'a' }))]);
    expect(nextWorkflowView(live, closed)).toBe(live);
    const refused = new Error('UNAUTHORIZED');
    const failed = nextWorkflowView(live, { type: 'failed', error: refused });
    expect(failed).toMatchObject({ status: 'error', error: refused, events: live.events });
    expect(nextWorkflowView(failed, received(event({ itemId: 'b' })))).toBe(failed);
  });

  test('a cancelled event ends the view as cancelled; nothing after it changes it', () => {
    const first = event({ itemId: 'a' });
    const cancelled = event({ itemId: 'workflow', kind: 'cancelled', data: { message: 'cancelled' } });
    const view = fold([received(first), received(cancelled), received(event({ itemId: 'late' }))]);
    expect(view.status).toBe('cancelled');
    expect(view.events).toEqual([first, cancelled]);
    expect(view.lastEventId).toBe(cancelled.eventId);
  });

  test('ephemeral values are kept apart from the stored ones, until a stored event of the item replaces them', () => {
    const stored = event({ itemId: 'a', data: { message: 'stored' } });
    const draft = (message: string): Event => ({
      ...stored,
      kind: 'ephemeral',
      itemId: 'bio',
      data: { message },
    });
    const drafted = fold([received(stored), received(draft('Max')), received(draft('Max is'))]);
    expect(drafted.ephemeral).toEqual({ petCreation: { bio: { message: 'Max is' } } });
    expect(drafted.events).toEqual([stored]);
    expect(drafted.items).toEqual({ petCreation: { a: { message: 'stored' } } });
    expect(drafted.lastEventId).toBe(stored.eventId);
    const final = event({ itemId: 'bio', data: { message: 'Max is a dog.' } });
    const done = nextWorkflowView(drafted, received(final));
    expect(done.ephemeral).toEqual({ petCreation: {} });
    expect(done.items).toEqual({
      petCreation: { a: { message: 'stored' }, bio: { message: 'Max is a dog.' } },
    });
  });
});
