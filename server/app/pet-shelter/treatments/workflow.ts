import { defineWorkflow, type WorkflowEnd } from '../../../engine/index.js';
import { TreatmentItem } from './schemas.js';
import { vetClearanceStep } from './steps/vet-clearance-step.js';
import { treatmentStream } from './streams.js';
import { treatmentTopics } from './topics.js';

/**
 * Treatment of an ill pet: `pets.treat` starts it; its one step waits for
 * a vet's clearance; it finishes when the vet has answered, or when no
 * answer came in time. The pet is then free for another treatment.
 */
export const treatmentWorkflow = defineWorkflow({
  kind: 'treatment',
  title: 'Treatment',
  streams: { treatment: treatmentStream },
  topics: treatmentTopics,
  starts: ['treatment.started'],
  steps: [vetClearanceStep],
  stepFailed: ({ subject, step }) => ({
    stream: 'treatment',
    itemId: TreatmentItem.stepFailed(step.name),
    data: { message: `❌ ${step.title} failed for ${subject}`, stage: 'finished' as const },
  }),
  async finish({ traceId, subject, end, services }) {
    await services.treatments.end(traceId);
    return { stream: 'treatment', data: { message: finalMessage(subject, end), stage: 'finished' as const } };
  },
});

function finalMessage(subject: string, end: WorkflowEnd): string {
  switch (end.reason) {
    case 'completed':
      return end.failedSteps === 0
        ? `Treatment workflow finished for ${subject}`
        : `Treatment workflow finished for ${subject} without a vet's answer`;
    case 'stopped':
      return `Treatment workflow for ${subject} stopped: ${end.unfinished.join(', ')} did not finish`;
    case 'lost':
      return `Treatment workflow for ${subject} was lost: storage no longer has it`;
    case 'cancelled':
      return `Treatment workflow for ${subject} was cancelled`;
  }
}
