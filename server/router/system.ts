import { publicProcedure, router } from '../trpc.js';

export const systemRouter = router({
  /**
   * Stream analytics of this process: connected clients, active
   * subscriptions, events written and delivered, delivery rate and lag,
   * workflows and step failures. The same figures as `GET /metrics`.
   */
  stats: publicProcedure.query(({ ctx }) => ctx.observability.stats()),
});
