import { PetCreationItem } from '../../../../shared/pet-creation.js';
import { defineWorkflow, type WorkflowEnd } from '../../../engine/index.js';
import { aiEnrichmentStep } from './steps/ai-enrichment-step.js';
import { feedingReminderStep } from './steps/feeding-reminder-step.js';
import { petCreationStreams } from './streams.js';
import { petTopics } from './topics.js';

/**
 * Pet creation: `pets.create` stores the pet and starts it; the feeding
 * reminder and the AI enrichment run concurrently; it finishes when both
 * have (succeeded or failed), with one final message on `petCreation`.
 */
export const petCreationWorkflow = defineWorkflow({
  kind: 'petCreation',
  title: 'Pet creation',
  streams: petCreationStreams,
  topics: petTopics,
  starts: ['pet.created', 'feeding.reminder.enqueued'],
  steps: [feedingReminderStep, aiEnrichmentStep],
  stepFailed: ({ subject, step }) => ({
    stream: 'petCreation',
    itemId: PetCreationItem.stepFailed(step.name),
    data: {
      message: `❌ ${step.title} failed for ${subject}; the workflow goes on without it`,
      stage: 'finished' as const,
      error: true,
    },
  }),
  finish: ({ subject, end }) => ({ stream: 'petCreation', data: finalMessage(subject, end) }),
});

function finalMessage(subject: string, end: WorkflowEnd) {
  switch (end.reason) {
    case 'completed':
      return end.failedSteps === 0
        ? {
            message: `Pet creation workflow finished for ${subject}`,
            stage: 'finished' as const,
            progress: 100,
          }
        : {
            message: `Pet creation workflow finished for ${subject} with ${end.failedSteps} failed step${end.failedSteps === 1 ? '' : 's'}`,
            stage: 'finished' as const,
            progress: 100,
            error: true,
          };
    case 'stopped':
      return {
        message: `Pet creation workflow for ${subject} stopped after ${duration(end.afterMs)}: ${end.unfinished.join(', ')} did not finish`,
        stage: 'finished' as const,
        progress: 100,
        error: true,
      };
    case 'lost':
      return {
        message: `Pet creation workflow for ${subject} was lost: storage no longer has it`,
        stage: 'finished' as const,
        error: true,
      };
    case 'cancelled':
      return { message: `Pet creation workflow for ${subject} was cancelled`, stage: 'finished' as const };
  }
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
