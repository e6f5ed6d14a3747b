/**
 * The shelter's plain REST and SSE routes, for curl and for clients
 * without tRPC. Every route goes through the router's caller with the same
 * context as tRPC, so validation, behaviour and answers are those of the
 * procedures.
 */
import type { PetInput } from '../../../../shared/pet.js';
import {
  pathParam,
  readJsonBody,
  requestContext,
  restHandler,
  sendJson,
  workflowSseRoute,
  type HttpRoute,
  type RouteEnvironment,
} from '../../../engine/index.js';
import { createCaller } from '../app-router.js';

export function petRoutes({ config, log, createContext }: RouteEnvironment): HttpRoute[] {
  // Each request is its own client, as on tRPC over HTTP: API keys and rate limits apply alike.
  const caller = (req: Parameters<HttpRoute['handle']>[0]) =>
    createCaller(requestContext(createContext, req));
  const respond = (work: Parameters<typeof restHandler>[1]) => restHandler(log, work);
  const maxBodyBytes = config.limits.httpMaxBodyBytes;

  return [
    {
      method: 'POST',
      path: '/pets',
      handle: respond(async (req, res) => {
        const body = await readJsonBody(req, maxBodyBytes);
        // Unvalidated on purpose: the procedure's input schema validates it.
        const created = await caller(req).pets.create(body as PetInput);
        sendJson(res, 201, created, { location: `/pets/${encodeURIComponent(created.pet.id)}` });
      }),
    },
    {
      method: 'GET',
      path: '/pets',
      // `?limit=&cursor=`: the page of pets.list, `{ items, nextCursor }`.
      handle: respond(async (req, res, _params, url) => {
        const limit = url.searchParams.get('limit');
        const cursor = url.searchParams.get('cursor');
        sendJson(
          res,
          200,
          await caller(req).pets.list({
            ...(limit === null ? {} : { limit: Number(limit) }),
            ...(cursor === null ? {} : { cursor }),
          }),
        );
      }),
    },
    // The seed's stream: `petCreation` only, and only a pet creation token opens it.
    workflowSseRoute({
      createContext,
      log,
      path: /^\/pets\/streams\/(?<traceId>[^/]+)$/,
      kind: 'petCreation',
      streams: ['petCreation'],
      heartbeatMs: config.limits.sseHeartbeatMs,
    }),
    {
      method: 'GET',
      path: /^\/pets\/(?<id>[^/]+)$/,
      handle: respond(async (req, res, params) => {
        sendJson(res, 200, await caller(req).pets.get({ id: pathParam(params, 'id') }));
      }),
    },
  ];
}
