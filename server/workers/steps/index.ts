/** Every step of the service. A new step is a new file and one line here. */
import type { Step } from '../define-step.js';
import { aiEnrichmentStep } from './ai-enrichment-step.js';
import { feedingReminderStep } from './feeding-reminder-step.js';

export const steps: readonly Step[] = [feedingReminderStep, aiEnrichmentStep];
