/**
 * The pet creation contract (`pets.create`, `petCreation.onUpdate`) written
 * as tRPC v11 documents it and kept deliberately plain: zod inputs,
 * superjson, the standalone HTTP handler and `applyWSSHandler` on one
 * server, an `EventEmitter` per process, an async-generator subscription
 * over `node:events` `on()` with `tracked()` ids that replays the history
 * after `lastEventId`, the same steps and messages and the same streamed
 * model call through the OpenAI SDK. No traces, metrics, idempotency or
 * storage beyond a Map: the baseline the whole-workflow scenario is measured
 * against.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter, on } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import OpenAI from 'openai';
import superjson from 'superjson';
import { WebSocketServer } from 'ws';
import { z } from 'zod';

import { PetInputSchema, PROFILE_FIELDS, type PetInput } from '../../../shared/pet.js';
import type { PetCreationData, PetCreationEvent } from '../../../shared/pet-creation.js';
import type { WorkflowServer } from './bench-server.js';

type Workflow = { readonly token: string; readonly events: PetCreationEvent[]; finished: boolean };

const t = initTRPC.create({ transformer: superjson });

export function createBareTrpcApp(options: { readonly modelUrl: string }): WorkflowServer {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const workflows = new Map<string, Workflow>();
  const model = new OpenAI({ apiKey: 'bench-key', baseURL: options.modelUrl, maxRetries: 0 });
  let running = 0;
  let idle: (() => void)[] = [];

  function write(traceId: string, itemId: string, data: PetCreationData, kind: 'set' | 'finished' = 'set') {
    const workflow = workflows.get(traceId);
    if (!workflow) return;
    const event: PetCreationEvent = {
      eventId: String(workflow.events.length + 1),
      stream: 'petCreation',
      groupId: traceId,
      itemId,
      kind,
      data,
      time: new Date().toISOString(),
    };
    workflow.events.push(event);
    if (kind === 'finished') workflow.finished = true;
    emitter.emit(traceId, event);
  }

  async function feeding(traceId: string, pet: PetInput) {
    const say = (message: string, progress: number) => write(traceId, 'message', { message, stage: 'feeding', progress });
    const pause = () => new Promise((resolve) => setTimeout(resolve, 0));
    say(`Pet ${pet.name} entered quarantine period`, 25);
    await pause();
    const symptoms = pet.symptoms ?? [];
    const ill = symptoms.length > 0;
    say(ill ? `Health check failed for ${pet.name} - symptoms detected: ${symptoms.join(', ')}` : `Health check passed for ${pet.name} - no symptoms found`, 60);
    await pause();
    say(ill ? `${pet.name} needs medical treatment ❌` : `${pet.name} is healthy and ready for adoption! ✅`, 100);
  }

  async function enrichment(traceId: string, pet: PetInput) {
    const say = (itemId: string, message: string, progress: number) => write(traceId, itemId, { message, stage: 'enrichment', progress });
    say('enrichment_started', `AI enrichment started for ${pet.name}`, 0);
    const stream = await model.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You write adoption profiles for a pet shelter. Answer with one JSON object: bio, breedGuess, temperamentTags, adopterHints.' },
        { role: 'user', content: JSON.stringify(pet) },
      ],
      response_format: { type: 'json_object' },
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    JSON.parse(text);
    PROFILE_FIELDS.forEach((field, i) => say(`progress_${field}`, `Generated ${field} for ${pet.name}`, Math.round(((i + 1) / 5) * 100)));
    say('completed', `AI enrichment completed for ${pet.name}`, 100);
  }

  async function run(traceId: string, pet: PetInput) {
    running += 1;
    try {
      await Promise.all([feeding(traceId, pet), enrichment(traceId, pet)]);
      write(traceId, 'workflow', { message: `Pet creation workflow finished for ${pet.name}`, stage: 'finished', progress: 100 }, 'finished');
    } finally {
      running -= 1;
      if (running === 0) for (const resolve of idle.splice(0)) resolve();
    }
  }

  const router = t.router({
    pets: t.router({
      create: t.procedure.input(PetInputSchema).mutation(({ input }) => {
        const id = randomUUID();
        const traceId = randomBytes(16).toString('hex');
        const token = randomUUID();
        workflows.set(traceId, { token, events: [], finished: false });
        write(traceId, 'message', {
          message: `Pet ${input.name} (ID: ${id}) created successfully - Species: ${input.species}, Age: ${input.ageMonths} months, Status: new`,
          stage: 'created',
          progress: 100,
        });
        void run(traceId, input);
        return { pet: { id, ...input }, traceId, streamToken: token };
      }),
    }),
    petCreation: t.router({
      onUpdate: t.procedure
        .input(z.object({ traceId: z.string(), token: z.string(), lastEventId: z.string().nullish() }))
        .subscription(async function* ({ input, signal }) {
          const workflow = workflows.get(input.traceId);
          if (workflow?.token !== input.token) throw new TRPCError({ code: 'FORBIDDEN' });
          // Listen first, then replay: nothing written in between is missed.
          const live = on(emitter, input.traceId, { signal });
          let last = Number(input.lastEventId ?? 0);
          for (const event of workflow.events.slice(last)) {
            yield tracked(event.eventId, event);
            last = Number(event.eventId);
            if (event.kind === 'finished') return;
          }
          for await (const [event] of live as AsyncIterable<[PetCreationEvent]>) {
            if (Number(event.eventId) <= last) continue;
            yield tracked(event.eventId, event);
            if (event.kind === 'finished') return;
          }
        }),
    }),
  });

  const handle = createHTTPHandler({ router, basePath: '/trpc/' });
  const server = http.createServer((req, res) => void handle(req, res));
  const wss = new WebSocketServer({ server, path: '/trpc' });
  const ws = applyWSSHandler({ wss, router });

  return {
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    idle: () => (running === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve))),
    close: async () => {
      ws.broadcastReconnectNotification();
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      idle = [];
    },
  };
}
