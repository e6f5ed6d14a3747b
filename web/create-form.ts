import { z } from 'zod';

import type { PetClient } from '../client/create-client.js';
import { PetInputSchema, type PetInput } from '../shared/pet.js';
import { byId } from './dom.js';

export type Created = Awaited<ReturnType<PetClient['pets']['create']['mutate']>>;

/** The create form: the same schema as the API checks the input first, then `pets.create`. */
export function mountCreateForm(client: PetClient, onCreated: (created: Created) => void): void {
  const form = byId<HTMLFormElement>('create-form');
  const error = byId<HTMLParagraphElement>('create-error');
  const submit = form.querySelector('button[type="submit"]');

  const showError = (message: string | null) => {
    error.textContent = message ?? '';
    error.hidden = message === null;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const parsed = PetInputSchema.safeParse(readForm(new FormData(form)));
    if (!parsed.success) {
      showError(describe(z.flattenError(parsed.error).fieldErrors));
      return;
    }
    showError(null);
    submit?.setAttribute('disabled', '');
    client.pets.create
      .mutate(parsed.data)
      .then((created) => {
        form.reset();
        onCreated(created);
      })
      .catch((cause: unknown) =>
        showError(cause instanceof Error ? cause.message : 'The pet could not be created'),
      )
      .finally(() => submit?.removeAttribute('disabled'));
  });
}

function readForm(data: FormData): Record<keyof PetInput, unknown> {
  const text = (name: string) => {
    const value = data.get(name);
    return typeof value === 'string' ? value.trim() : '';
  };
  const number = (name: string) => (text(name) === '' ? undefined : Number(text(name)));
  const symptoms = text('symptoms')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    name: text('name'),
    species: text('species'),
    ageMonths: number('ageMonths') ?? Number.NaN,
    weightKg: number('weightKg'),
    symptoms: symptoms.length > 0 ? symptoms : undefined,
  };
}

const LABELS: Readonly<Record<string, string>> = {
  name: 'Name',
  species: 'Species',
  ageMonths: 'Age',
  weightKg: 'Weight',
  symptoms: 'Symptoms',
};

function describe(fieldErrors: Record<string, string[] | undefined>): string {
  return Object.entries(fieldErrors)
    .map(([field, messages]) => `${LABELS[field] ?? field}: ${(messages ?? []).join('; ')}`)
    .join('. ');
}
