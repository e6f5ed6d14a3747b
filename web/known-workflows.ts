import type { WorkflowKind } from '../client/create-client.js';

/** The kinds this page can show, with their names for people. */
export const KIND_LABELS: Readonly<Record<WorkflowKind, string>> = {
  petCreation: 'Pet creation',
  adoption: 'Adoption',
  treatment: 'Treatment',
};

export function isWorkflowKind(value: unknown): value is WorkflowKind {
  return typeof value === 'string' && Object.hasOwn(KIND_LABELS, value);
}

/** A workflow this browser started: its stream token lets it read the streams and the trace. */
export type KnownWorkflow = {
  readonly kind: WorkflowKind;
  readonly traceId: string;
  readonly token: string;
  /** The pet it is about. */
  readonly petId: string;
  readonly name: string;
  /** For an adoption: the application it decides. */
  readonly applicationId?: string;
};

const KEY = 'pet-workbench.workflows';
const MAX = 100;

/** Remembers the workflows started here (in localStorage when it is available). */
export class KnownWorkflows {
  readonly #storage: Storage | null;
  readonly #byTrace = new Map<string, KnownWorkflow>();

  constructor(storage: Storage | null) {
    this.#storage = storage;
    for (const workflow of this.#load()) this.#byTrace.set(workflow.traceId, workflow);
  }

  get(traceId: string): KnownWorkflow | undefined {
    return this.#byTrace.get(traceId);
  }

  add(workflow: KnownWorkflow): void {
    this.#byTrace.set(workflow.traceId, workflow);
    while (this.#byTrace.size > MAX) {
      const oldest = this.#byTrace.keys().next();
      if (oldest.done) break;
      this.#byTrace.delete(oldest.value);
    }
    try {
      this.#storage?.setItem(KEY, JSON.stringify([...this.#byTrace.values()]));
    } catch {
      // Storage full or disabled: the workflow is still known until the page reloads.
    }
  }

  #load(): KnownWorkflow[] {
    try {
      const parsed: unknown = JSON.parse(this.#storage?.getItem(KEY) ?? '[]');
      return Array.isArray(parsed) ? parsed.flatMap(toKnownWorkflow) : [];
    } catch {
      return [];
    }
  }
}

/** A stored entry, or none when it is not one; entries saved before kinds existed are pet creations. */
function toKnownWorkflow(value: unknown): KnownWorkflow[] {
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const { traceId, token, petId, name, applicationId } = record;
  const kind = record['kind'] ?? 'petCreation';
  if (
    !isWorkflowKind(kind) ||
    typeof traceId !== 'string' ||
    typeof token !== 'string' ||
    typeof petId !== 'string' ||
    typeof name !== 'string'
  )
    return [];
  return [
    { kind, traceId, token, petId, name, ...(typeof applicationId === 'string' ? { applicationId } : {}) },
  ];
}
