/** Each service's own HTTP server: /healthz, /readyz and /metrics (not traced), plus its routes. */
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "@passerelle/telemetry";

export type ReadinessCheck = () => boolean | Promise<boolean>;

export function createHttpServer(
  metrics: Registry,
  checks: Map<string, ReadinessCheck>,
  isDraining: () => boolean,
): FastifyInstance {
  // Admin requests are small; anything bigger is refused with 413 by fastify.
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const results: Record<string, boolean> = {};
    for (const [name, check] of checks) {
      try {
        results[name] = await check();
      } catch {
        results[name] = false;
      }
    }
    const ready = !isDraining() && Object.values(results).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ ready, draining: isDraining(), checks: results });
  });
  app.get("/metrics", async (_request, reply) => {
    return reply.header("content-type", metrics.contentType).send(await metrics.metrics());
  });
  return app;
}
