/**
 * Adoptions over plain REST and SSE, through the router's caller (same
 * validation, answers and errors as the procedures).
 */
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
import type { AdoptionInput } from './schemas.js';
import { adoptionWorkflow } from './workflow.js';

export function adoptionRoutes({ config, log, createContext }: RouteEnvironment): HttpRoute[] {
  const caller = (req: Parameters<HttpRoute['handle']>[0]) =>
    createCaller(requestContext(createContext, req));
  const respond = (work: Parameters<typeof restHandler>[1]) => restHandler(log, work);

  return [
    {
      method: 'POST',
      path: '/adoptions',
      handle: respond(async (req, res) => {
        const body = await readJsonBody(req, config.limits.httpMaxBodyBytes);
        // Unvalidated on purpose: the procedure's input schema validates it.
        const submitted = await caller(req).adoptions.submit(body as AdoptionInput);
        sendJson(res, 201, submitted, {
          location: `/adoptions/${encodeURIComponent(submitted.application.id)}`,
        });
      }),
    },
    // Both streams; only an adoption token opens it.
    workflowSseRoute({
      createContext,
      log,
      path: /^\/adoptions\/streams\/(?<traceId>[^/]+)$/,
      kind: adoptionWorkflow.kind,
      heartbeatMs: config.limits.sseHeartbeatMs,
    }),
    {
      method: 'GET',
      path: /^\/adoptions\/(?<id>[^/]+)$/,
      handle: respond(async (req, res, params) => {
        sendJson(res, 200, await caller(req).adoptions.get({ id: pathParam(params, 'id') }));
      }),
    },
  ];
}
