import type { Species } from '../../../../shared/pet.js';
import type { Home, HomeType } from './schemas.js';

/** An application is approved when its home match score is at least this. */
export const APPROVAL_SCORE = 60;
/** From this score up to APPROVAL_SCORE, staff decide (`adoptions.decide`); below it, the application is rejected. */
export const REVIEW_SCORE = 40;

/** True when staff decide the application: its score is in [REVIEW_SCORE, APPROVAL_SCORE). */
export const needsReview = (score: number) => score >= REVIEW_SCORE && score < APPROVAL_SCORE;

/** Where the score starts, by home type. */
export const HOME_BASE: Readonly<Record<HomeType, number>> = { house: 60, farm: 55, apartment: 45 };
/** Added when the home has a garden: a dog needs one most. */
export const GARDEN_BONUS: Readonly<Record<Species, number>> = { dog: 25, cat: 10, bird: 10, other: 10 };
/** Taken off when other pets live there: birds and cats mind them most. */
export const OTHER_PETS_PENALTY: Readonly<Record<Species, number>> = {
  dog: 10,
  cat: 30,
  bird: 30,
  other: 10,
};

export type HomeMatch = {
  /** 0-100. */
  readonly score: number;
  /** How it was reached, for messages and the audit: `house 60, garden +25`. */
  readonly parts: readonly string[];
};

/**
 * How well a home suits a pet, 0-100, from the home type, the garden and
 * the other pets, for the pet's species. Deterministic: the same pet and
 * home always score the same.
 */
export function homeMatch(species: Species, home: Home): HomeMatch {
  const parts = [`${home.type} ${HOME_BASE[home.type]}`];
  let score = HOME_BASE[home.type];
  if (home.hasGarden) {
    score += GARDEN_BONUS[species];
    parts.push(`garden +${GARDEN_BONUS[species]}`);
  }
  if (home.otherPets) {
    score -= OTHER_PETS_PENALTY[species];
    parts.push(`other pets -${OTHER_PETS_PENALTY[species]}`);
  }
  return { score: Math.max(0, Math.min(100, score)), parts };
}
