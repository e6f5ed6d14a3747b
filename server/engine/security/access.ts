/**
 * Who may read what, for tRPC procedures and plain routes alike.
 *
 * - Application data (pets, adoptions): without API keys the service is
 *   open and every caller sees it whole. With keys, a caller without one
 *   sees its public view (the application decides what that leaves out); a
 *   valid key sees it whole; an invalid key is refused rather than
 *   silently downgraded.
 * - Operator views (trace list, stats, metrics): with keys, a valid key;
 *   without keys, loopback callers only, since they name every workflow.
 */
import type { TRPCError } from '@trpc/server';

import { apiKeyRejected, operatorViewForbidden } from '../errors.js';
import type { ApiKeys } from './api-keys.js';
import type { Caller } from './caller.js';

export type DataView = 'full' | 'public';

/** The view of application data the caller gets; throws UNAUTHORIZED for an invalid key. */
export function dataViewFor(caller: Caller, apiKeys: ApiKeys): DataView {
  const check = apiKeys.check(caller.apiKey);
  if (check === 'invalid') throw apiKeyRejected(check);
  return check === 'missing' ? 'public' : 'full';
}

/** Null when the caller may read operator views, else the error to answer with. */
export function operatorAccessError(caller: Caller, apiKeys: ApiKeys): TRPCError | null {
  const check = apiKeys.check(caller.apiKey);
  if (check === 'missing' || check === 'invalid') return apiKeyRejected(check);
  if (check === 'ok' || isLocal(caller)) return null;
  return operatorViewForbidden();
}

/** Code inside the service, or a peer on this machine's loopback interface. */
export function isLocal(caller: Caller): boolean {
  return caller.via === 'in-process' || isLoopbackAddress(caller.ip);
}

/** 127.0.0.0/8 and ::1, also in their IPv4-mapped IPv6 spelling. */
export function isLoopbackAddress(ip: string): boolean {
  const address = ip.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}
