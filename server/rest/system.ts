import { z } from 'zod';
import { defineRoute } from './route.js';
import { checkHealth } from '../health.js';

export const healthRoute = defineRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Health of the API and the services it depends on',
  tags: ['system'],
  errors: [503],
  response: z.object({
    status: z.enum(['ok', 'degraded']),
    postgres: z.string(),
    temporal: z.string(),
  }),
  handler: async ({ ctx, res }) => {
    const health = await checkHealth(ctx);
    res.status(health.status === 'ok' ? 200 : 503);
    return health;
  },
});
