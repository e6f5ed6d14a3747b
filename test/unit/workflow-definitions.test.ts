/**
 * What the engine refuses when an application is defined: tRPC-reserved
 * names (at definition time and, for literals, in types), and workflows
 * that clash when registered together (kinds, steps, streams, topics).
 */
import { describe, expect, test } from 'vitest';
import { z } from 'zod';

import {
  defineStep,
  defineStream,
  defineTopics,
  defineWorkflow,
  TRPC_RESERVED_NAMES,
} from '../../server/engine/index.js';
import { WorkflowRegistry } from '../../server/engine/workflows/registry.js';

const ProgressSchema = z.object({ message: z.string() });
const topics = defineTopics({ 'adoption.submitted': z.object({ applicationId: z.string() }) });
const progress = defineStream({ name: 'adoptionProgress', schema: ProgressSchema });

/** A step of the test workflows, writing `adoptionProgress`. */
function step(name: string) {
  return defineStep({
    name,
    title: `${name} step`,
    topics,
    subscribes: 'adoption.submitted',
    streams: { adoptionProgress: progress },
    async handler() {},
  });
}

/** A workflow with the given kind, steps and streams (progress alone when absent). */
function workflow(
  kind: string,
  steps: readonly ReturnType<typeof step>[],
  streams: { readonly adoptionProgress: typeof progress } = { adoptionProgress: progress },
) {
  return defineWorkflow({
    kind,
    title: `${kind} workflow`,
    streams,
    topics,
    starts: ['adoption.submitted'],
    steps,
    finish: () => ({ stream: 'adoptionProgress', data: { message: 'done' } }),
  });
}

describe('tRPC-reserved names are refused at definition time, naming the bad name', () => {
  test('the reserved names are those tRPC refuses as router keys', () => {
    expect(TRPC_RESERVED_NAMES).toEqual(['then', 'call', 'apply']);
  });

  test('a literal reserved stream name fails to compile', () => {
    // @ts-expect-error `call` is reserved by tRPC: the name's type is `never`
    expect(() => defineStream({ name: 'call', schema: ProgressSchema })).toThrow(
      new TypeError('Invalid stream name `call`: tRPC reserves it as a router key (then, call, apply)'),
    );
  });

  // Names known only at run time: the types cannot tell, the definitions must.
  test.each(TRPC_RESERVED_NAMES.map((name): string => name))('`%s`', (name) => {
    const reserved = (kind: string) =>
      new TypeError(`Invalid ${kind} \`${name}\`: tRPC reserves it as a router key (then, call, apply)`);
    expect(() => defineStream({ name, schema: ProgressSchema })).toThrow(reserved('stream name'));
    expect(() =>
      defineStep({
        name,
        title: 'Reserved',
        topics,
        subscribes: 'adoption.submitted',
        streams: {},
        async handler() {},
      }),
    ).toThrow(reserved('step name'));
    expect(() => workflow(name, [step('Check')])).toThrow(reserved('workflow kind'));
    expect(() => defineTopics({ [name]: z.object({}) })).toThrow(reserved('topic name'));
    // Only the whole name is reserved: as a word of a longer name it is fine.
    expect(defineStream({ name: `${name}Log`, schema: ProgressSchema }).name).toBe(`${name}Log`);
    expect(Object.keys(defineTopics({ [`adoption.${name}`]: z.object({}) }))).toEqual([`adoption.${name}`]);
  });

  test('a literal reserved step name, workflow kind or topic fails to compile', () => {
    expect(() =>
      defineStep({
        // @ts-expect-error `then` is reserved by tRPC
        name: 'then',
        title: 'Reserved',
        topics,
        subscribes: 'adoption.submitted',
        streams: {},
        async handler() {},
      }),
    ).toThrow(/`then`/);
    expect(() =>
      defineWorkflow({
        // @ts-expect-error `apply` is reserved by tRPC
        kind: 'apply',
        title: 'Reserved',
        streams: { adoptionProgress: progress },
        steps: [],
        finish: () => ({ stream: 'adoptionProgress', data: { message: 'done' } }),
      }),
    ).toThrow(/`apply`/);
    // @ts-expect-error `call` is reserved by tRPC
    expect(() => defineTopics({ call: z.object({}) })).toThrow(/`call`/);
  });

  test.each([
    ['stream name', () => defineStream({ name: 'pet-creation', schema: ProgressSchema })],
    ['stream name', () => defineStream({ name: '1stream', schema: ProgressSchema })],
    ['workflow kind', () => workflow('pet.creation', [])],
    ['topic name', () => defineTopics({ 'pet..created': z.object({}) })],
  ])('a %s that is not letters and digits is refused', (kind, define) => {
    expect(define).toThrow(new RegExp(`^Invalid ${kind} `));
  });
});

describe('WorkflowRegistry: the workflows of one application, checked together', () => {
  test('distinct workflows register, with their steps and topics', () => {
    const registry = new WorkflowRegistry([
      workflow('adoption', [step('Check')]),
      workflow('returns', [step('Inspect')]),
    ]);
    expect(registry.kinds).toEqual(['adoption', 'returns']);
    expect(registry.steps.map((s) => [s.workflow.kind, s.step.name])).toEqual([
      ['adoption', 'Check'],
      ['returns', 'Inspect'],
    ]);
    expect(registry.topics.has('adoption.submitted')).toBe(true);
    expect(registry.get('returns').kind).toBe('returns');
    expect(registry.find('unknown')).toBeUndefined();
    expect(() => registry.get('unknown')).toThrow(
      new TypeError('No workflow of kind `unknown` is registered'),
    );
  });

  test('a kind registered twice is refused', () => {
    expect(() => new WorkflowRegistry([workflow('adoption', []), workflow('adoption', [])])).toThrow(
      new TypeError('Workflow kind `adoption` is registered twice'),
    );
  });

  test('a step name used by two workflows is refused', () => {
    expect(
      () =>
        new WorkflowRegistry([workflow('adoption', [step('Check')]), workflow('returns', [step('Check')])]),
    ).toThrow(new TypeError('Step `Check` is registered twice'));
  });

  test('a step listed twice in one workflow is refused when the workflow is defined', () => {
    expect(() => workflow('adoption', [step('Check'), step('Check')])).toThrow(
      new TypeError('Workflow `adoption` lists step `Check` twice'),
    );
  });

  test('a stream name with two different definitions is refused; one definition shared is fine', () => {
    const lookalike = defineStream({ name: 'adoptionProgress', schema: ProgressSchema });
    expect(
      () =>
        new WorkflowRegistry([
          workflow('adoption', []),
          workflow('returns', [], { adoptionProgress: lookalike }),
        ]),
    ).toThrow(new TypeError('Stream `adoptionProgress` is defined twice, with two different definitions'));
    expect(new WorkflowRegistry([workflow('adoption', []), workflow('returns', [])]).kinds).toEqual([
      'adoption',
      'returns',
    ]);
  });

  test('a topic with two different schemas is refused', () => {
    const other = defineTopics({ 'adoption.submitted': z.object({ id: z.number() }) });
    const clashing = defineWorkflow({
      kind: 'returns',
      title: 'Returns',
      streams: { adoptionProgress: progress },
      topics: other,
      starts: ['adoption.submitted'],
      steps: [],
      finish: () => ({ stream: 'adoptionProgress', data: { message: 'done' } }),
    });
    expect(() => new WorkflowRegistry([workflow('adoption', []), clashing])).toThrow(
      new TypeError('Topic `adoption.submitted` is defined twice, with two different schemas'),
    );
  });
});
