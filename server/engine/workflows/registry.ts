import { TopicRegistry } from '../bus/topics.js';
import type { StreamDefinition } from '../streams/define-stream.js';
import type { StepDefinition } from './define-step.js';
import type { AnyWorkflow } from './define-workflow.js';

/** A step with the workflow it belongs to. */
export type RegisteredStep<TServices> = {
  readonly step: StepDefinition<TServices>;
  readonly workflow: AnyWorkflow<TServices>;
};

/**
 * The workflows of one application, checked together at start-up: kinds,
 * step names and stream names are unique across the application (a stream
 * name shared by two workflows must be the same definition), and every
 * topic keeps one schema.
 */
export class WorkflowRegistry<TServices> {
  readonly #byKind = new Map<string, AnyWorkflow<TServices>>();
  readonly #streams = new Map<string, StreamDefinition>();
  readonly steps: readonly RegisteredStep<TServices>[];
  readonly topics: TopicRegistry;

  constructor(workflows: readonly AnyWorkflow<TServices>[]) {
    const steps: RegisteredStep<TServices>[] = [];
    const stepNames = new Set<string>();
    this.topics = new TopicRegistry();
    for (const workflow of workflows) {
      if (this.#byKind.has(workflow.kind)) {
        throw new TypeError(`Workflow kind \`${workflow.kind}\` is registered twice`);
      }
      this.#byKind.set(workflow.kind, workflow);
      for (const [name, definition] of Object.entries(workflow.streams)) {
        const known = this.#streams.get(name);
        if (known !== undefined && known !== definition) {
          throw new TypeError(`Stream \`${name}\` is defined twice, with two different definitions`);
        }
        this.#streams.set(name, definition);
      }
      this.topics.add(workflow.topics);
      for (const step of workflow.steps) {
        if (stepNames.has(step.name)) throw new TypeError(`Step \`${step.name}\` is registered twice`);
        stepNames.add(step.name);
        this.topics.add(step.topics);
        steps.push({ step, workflow });
      }
    }
    this.steps = steps;
  }

  /** The workflow of this kind; throws for a kind the application does not have. */
  get(kind: string): AnyWorkflow<TServices> {
    const workflow = this.#byKind.get(kind);
    if (!workflow) throw new TypeError(`No workflow of kind \`${kind}\` is registered`);
    return workflow;
  }

  find(kind: string): AnyWorkflow<TServices> | undefined {
    return this.#byKind.get(kind);
  }

  /** True when a workflow of this kind is registered. */
  has(workflow: Pick<AnyWorkflow<TServices>, 'kind'>): boolean {
    return this.#byKind.has(workflow.kind);
  }

  get kinds(): readonly string[] {
    return [...this.#byKind.keys()];
  }
}
