/**
 * Imported first by the page: the page's policy forbids eval, so zod must
 * not probe for it (the probe, made when schemas are built, logs a policy
 * violation).
 */
import { z } from 'zod';

z.config({ jitless: true });
