/** A workflow this browser created: its stream token lets it read the stream and the trace. */
export type KnownWorkflow = {
  readonly traceId: string;
  readonly token: string;
  readonly petId: string;
  readonly name: string;
};

const KEY = 'pet-workbench.workflows';
const MAX = 100;

/** Remembers the workflows created here (in localStorage when it is available). */
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
      return Array.isArray(parsed) ? parsed.filter(isKnownWorkflow) : [];
    } catch {
      return [];
    }
  }
}

function isKnownWorkflow(value: unknown): value is KnownWorkflow {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['traceId', 'token', 'petId', 'name'].every((key) => typeof record[key] === 'string');
}
