export type StepOutcome = 'succeeded' | 'dead';

export type WorkflowState = {
  readonly traceId: string;
  readonly flow: string;
  /** What the workflow is about, for messages ("Max"). */
  readonly subject: string;
  readonly steps: readonly string[];
  readonly outcomes: Readonly<Record<string, StepOutcome>>;
  readonly startedAt: string;
  readonly finishedAt: string | null;
};

/**
 * Which steps of each workflow are done. `complete` is atomic, so exactly one
 * caller sees the last step finish, even across instances.
 */
export interface WorkflowStore {
  start(state: Omit<WorkflowState, 'outcomes' | 'finishedAt'>): Promise<void>;
  /** Records a step's outcome; returns the state after it, or null for an unknown workflow. */
  complete(
    traceId: string,
    step: string,
    outcome: StepOutcome,
  ): Promise<{
    readonly state: WorkflowState;
    readonly allDone: boolean;
    readonly firstToFinish: boolean;
  } | null>;
  get(traceId: string): Promise<WorkflowState | null>;
  close(): Promise<void>;
}
