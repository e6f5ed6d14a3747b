import { isTRPCClientError } from '@trpc/client';

import type { AppRouter, PetClient } from '../client/create-client.js';
import type { Pet } from '../shared/pet.js';
import { h } from './dom.js';

export type Submitted = Awaited<ReturnType<PetClient['trpc']['adoptions']['submit']['mutate']>>;
type AdoptionInput = Parameters<PetClient['trpc']['adoptions']['submit']['mutate']>[0];

const HOME_TYPES: readonly { readonly value: AdoptionInput['home']['type']; readonly label: string }[] = [
  { value: 'house', label: 'House' },
  { value: 'apartment', label: 'Apartment' },
  { value: 'farm', label: 'Farm' },
];

/** The form's controls, by the input field the server names in its errors. */
const CONTROLS = {
  name: { id: 'adopt-applicant', label: 'Applicant' },
  email: { id: 'adopt-email', label: 'Email' },
  type: { id: 'adopt-home', label: 'Home type' },
  hasGarden: { id: 'adopt-garden', label: 'Garden' },
  otherPets: { id: 'adopt-other-pets', label: 'Other pets' },
} as const;
type ControlName = keyof typeof CONTROLS;

/**
 * "Apply to adopt" for a healthy pet: `adoptions.submit`, then `onSubmitted`
 * (the page opens the adoption's workflow). The server checks the input:
 * its field errors, or why the pet cannot be adopted, show under the form.
 */
export function adoptForm(
  client: PetClient,
  pet: Pet,
  onSubmitted: (submitted: Submitted) => void,
): HTMLElement {
  const applicant = h('input', {
    id: CONTROLS.name.id,
    name: 'applicantName',
    type: 'text',
    autocomplete: 'name',
    maxlength: '100',
    required: true,
  });
  const email = h('input', {
    id: CONTROLS.email.id,
    name: 'email',
    type: 'email',
    autocomplete: 'email',
    required: true,
  });
  const home = h(
    'select',
    { id: CONTROLS.type.id, name: 'homeType' },
    ...HOME_TYPES.map(({ value, label }) => h('option', { value }, label)),
  );
  const garden = h('input', { id: CONTROLS.hasGarden.id, name: 'hasGarden', type: 'checkbox' });
  const otherPets = h('input', { id: CONTROLS.otherPets.id, name: 'otherPets', type: 'checkbox' });
  const controls: Readonly<Record<ControlName, HTMLInputElement | HTMLSelectElement>> = {
    name: applicant,
    email,
    type: home,
    hasGarden: garden,
    otherPets,
  };
  const error = h('p', { id: 'adopt-error', class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit' }, 'Submit application');
  const form = h(
    'form',
    { id: 'adopt-form', class: 'adopt-form', novalidate: true, 'aria-labelledby': 'adopt-title' },
    h('h4', { id: 'adopt-title' }, `Apply to adopt ${pet.name}`),
    h('div', { class: 'field' }, h('label', { for: applicant.id }, 'Applicant'), applicant),
    h('div', { class: 'field' }, h('label', { for: email.id }, 'Email'), email),
    h('div', { class: 'field' }, h('label', { for: home.id }, 'Home type'), home),
    h(
      'div',
      { class: 'checks' },
      h('label', { class: 'check' }, garden, ' Has a garden'),
      h('label', { class: 'check' }, otherPets, ' Other pets at home'),
    ),
    error,
    submit,
  );

  const showErrors = (messages: readonly string[], fields: ReadonlySet<ControlName>) => {
    error.textContent = messages.join('. ');
    error.hidden = messages.length === 0;
    for (const [name, control] of Object.entries(controls)) {
      if (fields.has(name as ControlName)) {
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', error.id);
      } else {
        control.removeAttribute('aria-invalid');
        control.removeAttribute('aria-describedby');
      }
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    showErrors([], new Set());
    submit.disabled = true;
    const input: AdoptionInput = {
      petId: pet.id,
      applicant: { name: applicant.value, email: email.value.trim() },
      home: {
        type: HOME_TYPES.find(({ value }) => value === home.value)?.value ?? 'house',
        hasGarden: garden.checked,
        otherPets: otherPets.checked,
      },
    };
    client.trpc.adoptions.submit
      .mutate(input)
      .then(onSubmitted)
      .catch((cause: unknown) => {
        const { messages, fields } = describe(cause);
        showErrors(messages, fields);
      })
      .finally(() => {
        submit.disabled = false;
      });
  });

  return h('section', { class: 'adopt', 'aria-label': 'Apply to adopt' }, form);
}

/**
 * The server's answer for people: for bad input, one message per field
 * (nested messages start with the field's name, e.g. `email: …`); else its
 * message (CONFLICT: the pet cannot be adopted any more; NOT_FOUND…).
 */
function describe(cause: unknown): { messages: string[]; fields: Set<ControlName> } {
  const fields = new Set<ControlName>();
  if (!isTRPCClientError<AppRouter>(cause)) {
    return {
      messages: [cause instanceof Error ? cause.message : 'The application could not be sent'],
      fields,
    };
  }
  const fieldErrors = cause.data?.fieldErrors;
  if (cause.data?.code !== 'BAD_REQUEST' || !fieldErrors) return { messages: [cause.message], fields };
  const messages = Object.values(fieldErrors)
    .flatMap((list: unknown): unknown[] => (Array.isArray(list) ? (list as unknown[]) : []))
    .filter((message): message is string => typeof message === 'string')
    .map((message) => {
      const [, field = '', text = message] = /^(\w+): (.*)$/s.exec(message) ?? [];
      if (!isControlName(field)) return message;
      fields.add(field);
      return `${CONTROLS[field].label}: ${text}`;
    });
  return { messages: messages.length > 0 ? messages : [cause.message], fields };
}

function isControlName(value: string): value is ControlName {
  return Object.hasOwn(CONTROLS, value);
}
