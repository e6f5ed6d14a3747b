import type { Pet } from '@pet-stream/client';
import { usePetClient, useWorkflow } from '@pet-stream/client/react';
import { useEffect, useState } from 'react';

import type { CreatedPet } from './create-pet-form.js';

const STATUS_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Connection lost, reconnecting…',
  finished: 'Finished',
  cancelled: 'Cancelled',
  error: 'Stopped',
} as const;

/** One pet's creation workflow, live: status, each step's progress, the messages, the profile as it is written. */
export function PetWorkflow(props: CreatedPet) {
  const client = usePetClient();
  const { events, items, progress, status, error } = useWorkflow('petCreation', props.traceId, props.token, {
    streams: ['petCreation', 'petProfile'],
  });
  const [pet, setPet] = useState<Pet | null>(null);

  useEffect(() => {
    if (status !== 'finished') return;
    let current = true;
    void client.pets.get.query({ id: props.petId }).then((found) => {
      if (current) setPet(found);
    });
    return () => {
      current = false;
    };
  }, [client, status, props.petId]);

  const profile = items.petProfile ?? {};
  return (
    <section aria-labelledby="workflow-title">
      <h2 id="workflow-title">{props.name}</h2>
      <p>
        Stream:{' '}
        <span id="status" className="status" data-status={status} role="status">
          {STATUS_TEXT[status]}
        </span>
        {error && status === 'error' && <span id="error"> {error.message}</span>}
      </p>
      {(['feeding', 'enrichment'] as const).map((stage) => (
        <p key={stage}>
          <label htmlFor={`progress-${stage}`}>{stage}</label>{' '}
          <progress id={`progress-${stage}`} max={100} value={progress[stage] ?? 0} />
        </p>
      ))}
      <ol id="events" className="events">
        {events.map((event) => (
          <li
            key={event.eventId}
            data-event-id={event.eventId}
            data-stream={event.stream}
            data-kind={event.kind}
          >
            {event.stream === 'petCreation'
              ? event.data?.message
              : `${event.data?.field}: ${String(event.data?.value)}`}
          </li>
        ))}
      </ol>
      <dl id="profile">
        {Object.entries(profile).map(([field, data]) => (
          <div key={field}>
            <dt>{field}</dt>
            <dd data-field={field} data-draft={String(data.draft)}>
              {Array.isArray(data.value) ? data.value.join(', ') : data.value}
            </dd>
          </div>
        ))}
      </dl>
      {pet && (
        <p id="pet-status">
          {pet.name} is now <strong>{pet.status}</strong>
        </p>
      )}
    </section>
  );
}
