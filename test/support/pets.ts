import type { PetInput } from '../../shared/pet.js';

/** The seed's own examples. */
export const max: PetInput = { name: 'Max', species: 'dog', ageMonths: 24, symptoms: ['coughing'] };
export const luna: PetInput = {
  name: 'Luna',
  species: 'cat',
  ageMonths: 18,
  symptoms: ['sneezing', 'watery eyes'],
};
export const buddy: PetInput = { name: 'Buddy', species: 'dog', ageMonths: 12 };

/** The feeding step's messages, in order, as SPEC gives them. */
export function feedingMessages(pet: PetInput): string[] {
  const symptoms = pet.symptoms ?? [];
  return symptoms.length > 0
    ? [
        `Pet ${pet.name} entered quarantine period`,
        `Health check failed for ${pet.name} - symptoms detected: ${symptoms.join(', ')}`,
        `${pet.name} needs medical treatment ❌`,
      ]
    : [
        `Pet ${pet.name} entered quarantine period`,
        `Health check passed for ${pet.name} - no symptoms found`,
        `${pet.name} is healthy and ready for adoption! ✅`,
      ];
}

/** The enrichment step's (item, message) pairs, in order. */
export function enrichmentEvents(name: string, fallback: boolean): [string, string][] {
  return [
    ['enrichment_started', `AI enrichment started for ${name}`],
    ['progress_bio', `Generated bio for ${name}`],
    ['progress_breedGuess', `Generated breedGuess for ${name}`],
    ['progress_temperamentTags', `Generated temperamentTags for ${name}`],
    ['progress_adopterHints', `Generated adopterHints for ${name}`],
    [
      'completed',
      fallback
        ? `AI enrichment completed with fallback profile for ${name}`
        : `AI enrichment completed for ${name}`,
    ],
  ];
}
