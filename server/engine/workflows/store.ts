export type StepOutcome = 'succeeded' | 'dead';

export type WorkflowState = {
  readonly traceId: string;
  readonly flow: string;
  /** What the workflow is about, for messages ("Max"). */
  readonly subject: string;
  readonly steps: readonly string[];
  readonly outcomes: Readonly<Record<string, StepOutcome>>;
  readonly startedAt: string;
  /** When it ended: its last step finished, it was stopped or lost, or it was cancelled. */
  readonly finishedAt: string | null;
  /** When it was cancelled (then also its `finishedAt`); null otherwise. */
  readonly cancelledAt: string | null;
};

/** What a workflow's state starts as: nothing done, nothing ended. */
export type StartedWorkflow = Omit<WorkflowState, 'outcomes' | 'finishedAt' | 'cancelledAt'>;

/**
 * Which steps of each workflow are done. `complete` is atomic, so exactly one
 * caller sees the last step finish, even across instances.
 */
export interface WorkflowStore {
  start(state: StartedWorkflow): Promise<void>;
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
  /**
   * Ends a running workflow as cancelled, atomically with `complete`: once
   * it has, no step's outcome finishes it. `cancelled` is false when it had
   * already ended (finished, stopped, lost or cancelled before); null for
   * an unknown workflow.
   */
  cancel(traceId: string): Promise<{ readonly state: WorkflowState; readonly cancelled: boolean } | null>;
  get(traceId: string): Promise<WorkflowState | null>;
  close(): Promise<void>;
}
