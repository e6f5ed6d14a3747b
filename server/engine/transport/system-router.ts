import { operatorProcedure, router } from './trpc.js';

export const systemRouter = router({
  /**
   * Stream analytics of this process: connected clients, active
   * subscriptions, events written and delivered, delivery rate and lag,
   * workflows and step failures. The same figures as `GET /metrics`, and
   * the same access: a key when keys are configured, else loopback only.
   */
  stats: operatorProcedure.query(({ ctx }) => ctx.observability.stats()),
});
