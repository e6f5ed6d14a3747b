import type { StoredEvent } from './storage.js';

/**
 * A subscription's workflow log is gone while it was being read (evicted,
 * or lost by the storage, e.g. Redis restarted without its data): the
 * subscriber got a `reset` event, and nothing more will come.
 */
export class StreamGroupLost extends Error {
  override readonly name = 'StreamGroupLost';
  constructor(readonly groupId: string) {
    super(`The log of workflow ${groupId} is no longer stored`);
  }
}

/** The live event by which storage tells a log's listeners that it is gone (see LiveListener). */
export function groupLostEvent(groupId: string, time: Date): StoredEvent {
  return {
    eventId: '0',
    stream: '',
    groupId,
    itemId: 'history',
    kind: 'reset',
    data: null,
    time: time.toISOString(),
  };
}
