import type { WorkflowEvent, WorkflowKind } from '../client/create-client.js';
import type { KnownWorkflow } from './known-workflows.js';

/**
 * How the workflow view shows one kind: a part of the page with a section
 * per stream of the kind, fed each event of all its streams in log order.
 */
export type KindView<K extends WorkflowKind> = {
  /** The part of the page shown for this kind only. */
  readonly root: HTMLElement;
  title(workflow: KnownWorkflow): string;
  /** Empties every section for a newly selected workflow. */
  reset(workflow: KnownWorkflow): void;
  render(event: WorkflowEvent<K>): void;
  /** The overall progress so far, 0-100. */
  readonly progress: number;
  /** Whether the workflow's finished event reports a failure. */
  failed(finished: WorkflowEvent<K>): boolean;
  /** After the finished event: what the workflow left (the pet, the decision). */
  finished(workflow: KnownWorkflow, signal: AbortSignal): Promise<void>;
};

/** A view for every kind the client knows: a new kind does not compile until it has one. */
export type KindViews = { readonly [K in WorkflowKind]: KindView<K> };
