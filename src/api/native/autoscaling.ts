/**
 * `GET /projects/{p}/services/{s}/autoscaling`: the autoscaler's view of a service (the `/v1` service view
 * carries the same under `status.autoscaling`): its spec, current and desired counts, each metric's value
 * against its target, why it holds, and the scaling events so far. See docs/autoscaling.md.
 */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';

const ServiceParams = Type.Object({ projectId: Type.String(), serviceId: Type.String() });

export function registerNativeAutoscaling(app: Api, deps: ApiDeps): void {
  const { catalog, store } = deps;
  app.get(
    '/projects/:projectId/services/:serviceId/autoscaling',
    { schema: { tags: ['services'], summary: "The autoscaler's status of a service: current and desired instances, each metric's value and target, recent scaling events", params: ServiceParams } },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      const d = await catalog.get(req.principal, projectId, serviceId);
      // The service's events oldest first, a page at a time: the autoscaler's last 20.
      const events: { reason: string; message: string; createdAt: string }[] = [];
      for (let after = 0; ; ) {
        const page = await store.events.list(projectId, serviceId, { afterId: after, limit: 500 });
        events.push(...page.filter((e) => e.kind === 'autoscale'));
        if (page.length < 500) break;
        after = page.at(-1)!.id;
      }
      return {
        spec: (d.service.spec.autoscaling as { horizontal?: unknown } | undefined)?.horizontal ?? null,
        enabled: !!d.autoscaling || !!(d.service.spec.autoscaling as { horizontal?: { enabled?: boolean } } | undefined)?.horizontal?.enabled,
        instances: d.service.spec.deployment?.instances ?? 0,
        status: d.autoscaling ?? null,
        events: events.slice(-20).map((e) => ({ reason: e.reason, message: e.message, createdAt: e.createdAt })),
      };
    },
  );
}
