import type { Pet, Profile, Species } from '../../../../../shared/pet.js';

const BY_SPECIES: Record<Species, { breed: string; tags: [string, string, string] }> = {
  dog: { breed: 'Mixed breed dog', tags: ['loyal', 'playful', 'affectionate'] },
  cat: { breed: 'Domestic shorthair', tags: ['curious', 'independent', 'gentle'] },
  bird: { breed: 'Companion bird', tags: ['social', 'vocal', 'bright'] },
  other: { breed: 'Unknown', tags: ['unique', 'calm', 'curious'] },
};

/** A deterministic profile from the pet's own data, used whenever the model cannot answer. */
export function fallbackProfile(pet: Pet): Profile {
  const { breed, tags } = BY_SPECIES[pet.species];
  const years = Math.floor(pet.ageMonths / 12);
  const age = years >= 1 ? `${years} year${years === 1 ? '' : 's'} old` : `${pet.ageMonths} months old`;
  const needsCare = (pet.symptoms?.length ?? 0) > 0;
  return {
    bio: `${pet.name} is a ${age} ${pet.species} looking for a loving home.`,
    breedGuess: breed,
    temperamentTags: [...tags],
    adopterHints: needsCare
      ? `${pet.name} is receiving medical care; ask our staff about follow-up treatment before adopting.`
      : `${pet.name} would do best with an adopter ready to give plenty of time and attention.`,
  };
}
