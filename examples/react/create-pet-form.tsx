import { TRPCClientError, type PetInput, type Species } from '@pet-stream/client';
import { usePetClient } from '@pet-stream/client/react';
import { useState, type FormEvent } from 'react';

export type CreatedPet = {
  readonly petId: string;
  readonly name: string;
  readonly traceId: string;
  readonly token: string;
};

const SPECIES: readonly Species[] = ['dog', 'cat', 'bird', 'other'];

export function CreatePetForm(props: { readonly onCreated: (pet: CreatedPet) => void }) {
  const client = usePetClient();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (field: string) => {
      const value = form.get(field);
      return typeof value === 'string' ? value : '';
    };
    const symptoms = text('symptoms')
      .split(',')
      .map((symptom) => symptom.trim())
      .filter(Boolean);
    const input: PetInput = {
      name: text('name'),
      species: text('species') as Species,
      ageMonths: Number(text('ageMonths')),
      ...(symptoms.length > 0 ? { symptoms } : {}),
    };
    setBusy(true);
    setProblem(null);
    try {
      const { pet, traceId, streamToken } = await client.pets.create.mutate(input);
      props.onCreated({ petId: pet.id, name: pet.name, traceId, token: streamToken });
    } catch (error) {
      // The server names each bad field.
      setProblem(error instanceof TRPCClientError ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={(event) => void submit(event)}>
      <label htmlFor="name">Name</label>
      <input id="name" name="name" required />
      <label htmlFor="species">Species</label>
      <select id="species" name="species" defaultValue="dog">
        {SPECIES.map((species) => (
          <option key={species}>{species}</option>
        ))}
      </select>
      <label htmlFor="ageMonths">Age (months)</label>
      <input id="ageMonths" name="ageMonths" type="number" min={0} required />
      <label htmlFor="symptoms">Symptoms (comma-separated)</label>
      <input id="symptoms" name="symptoms" />
      <button type="submit" disabled={busy}>
        Create pet
      </button>
      {problem && (
        <p role="alert" className="problem">
          {problem}
        </p>
      )}
    </form>
  );
}
