import type { Pet } from '../shared/pet.js';
import { formatTime, h } from './dom.js';

/** The pet as the workflow left it: status, feeding notes and the adopter profile; then `extra`, if any. */
export function petCard(pet: Pet, extra: Node | null = null): HTMLElement {
  const facts: [string, string | undefined][] = [
    ['Species', pet.species],
    ['Age', `${pet.ageMonths} months`],
    ['Weight', pet.weightKg === undefined ? undefined : `${pet.weightKg} kg`],
    ['Status', pet.status.replace('_', ' ')],
    ['Symptoms', pet.symptoms?.length ? pet.symptoms.join(', ') : 'none'],
    [
      'Next feeding',
      pet.nextFeedingAt
        ? `${new Date(pet.nextFeedingAt).toLocaleDateString()} ${formatTime(pet.nextFeedingAt)}`
        : undefined,
    ],
    ['Notes', pet.notes],
    ['Breed guess', pet.profile?.breedGuess],
  ];
  return h(
    'article',
    { class: 'pet-card', 'aria-labelledby': 'pet-card-title' },
    h('h3', { id: 'pet-card-title' }, `${pet.name} `, h('small', {}, `#${pet.id}`)),
    h(
      'dl',
      {},
      ...facts
        .filter((fact): fact is [string, string] => fact[1] !== undefined)
        .flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]),
    ),
    pet.profile
      ? h(
          'div',
          { class: 'profile' },
          h('p', { class: 'profile-bio' }, pet.profile.bio),
          h(
            'ul',
            { class: 'tags', 'aria-label': 'Temperament' },
            ...pet.profile.temperamentTags.map((tag) => h('li', {}, tag)),
          ),
          h('p', {}, h('strong', {}, 'For adopters: '), pet.profile.adopterHints),
        )
      : null,
    extra,
  );
}
