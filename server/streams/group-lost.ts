import type { StoredEvent } from './stream-storage.js';

/**
 * A subscription's group is gone while it was being read (evicted, or lost
 * by the storage, e.g. Redis restarted without its data): the subscriber
 * got a `reset` event, and nothing more will come.
 */
export class StreamGroupLost extends Error {
  override readonly name = 'StreamGroupLost';
  constructor(
    readonly stream: string,
    readonly groupId: string,
  ) {
    super(`Stream group ${stream}/${groupId} is no longer stored`);
  }
}

/** The live event by which storage tells a group's listeners that its log is gone (see LiveListener). */
export function groupLostEvent(stream: string, groupId: string, time: Date): StoredEvent {
  return {
    eventId: '0',
    stream,
    groupId,
    itemId: 'history',
    kind: 'reset',
    data: null,
    time: time.toISOString(),
  };
}
