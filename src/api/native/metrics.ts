/**
 * Metrics routes (native, RFC 9457 errors; docs/metrics.md): series of a service or an addon over a time
 * range, and the control plane's Prometheus endpoint.
 */
import { Type } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import type { MetricsReads } from '../../observe/metrics/metrics-reads.ts';
import { METRICS } from '../../observe/metrics/names.ts';

const TIME_HELP = 'RFC 3339 (2026-12-06T07:00:00Z), Unix seconds (1796540400), `now`, or relative to now (`-15m`, `now-1h`; units s, m, h, d)';

const Query = Type.Object(
  {
    names: Type.Optional(Type.String({ maxLength: 2000, description: 'comma-separated metric names (may repeat); default: a chart set' })),
    from: Type.Optional(Type.String({ maxLength: 64, description: `start of the range: ${TIME_HELP}; default: one hour before to` })),
    to: Type.Optional(Type.String({ maxLength: 64, description: `end of the range: ${TIME_HELP}; default: now` })),
    step: Type.Optional(Type.String({ maxLength: 32, description: 'bucket size: seconds (30) or a duration (30s, 5m, 1h); default: the range over 300, at least the sampling period' })),
  },
  { additionalProperties: false },
);

const SeriesAnswer = Type.Object({
  from: Type.Number({ description: 'epoch seconds: the first step start' }),
  to: Type.Number({ description: 'epoch seconds' }),
  step: Type.Integer({ description: 'seconds per point' }),
  resolution: Type.Union([Type.Literal('raw'), Type.Literal('1m')], { description: 'raw: the sampling period (kept SLIPWAY_METRICS_RAW_RETENTION_HOURS); 1m: minute roll-ups (older ranges)' }),
  series: Type.Array(
    Type.Object({
      name: Type.String(),
      unit: Type.String(),
      kind: Type.Union([Type.Literal('gauge'), Type.Literal('count')], { description: 'gauge: points are the mean over each step; count: the sum of events in each step' }),
      instance: Type.Union([Type.String(), Type.Null()], { description: 'the instance of an instance metric; null for the service’s or addon’s own' }),
      points: Type.Array(Type.Tuple([Type.Number(), Type.Number()]), { description: '[epoch seconds of the step start, value]; steps without a sample are absent' }),
      max: Type.Optional(Type.Array(Type.Number(), { description: 'gauges: the highest sample in each step, aligned with points' })),
    }),
  ),
  markers: Type.Optional(
    Type.Array(
      Type.Object({
        ts: Type.Number({ description: 'epoch seconds' }),
        kind: Type.String({ description: 'rollout, scale, autoscale… (the service event kind)' }),
        reason: Type.String(),
        message: Type.String(),
      }),
      { description: 'services: rollouts started and ended and scaling events in the range (for the time axis)' },
    ),
  ),
});

const names = (owner: 'service' | 'addon') =>
  METRICS.filter((m) => m.owners.includes(owner))
    .map((m) => `\`${m.name}\` (${m.kind}, ${m.scope === 'instance' ? 'per instance, ' : ''}${m.unit}): ${m.help}`)
    .join('; ');

export function registerMetrics(app: Api, metrics: MetricsReads): void {
  app.get(
    '/projects/:projectId/services/:serviceId/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Metrics of a service over time',
        description: `Names: ${names('service')}.`,
        params: Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }) }),
        querystring: Query,
        response: { 200: SeriesAnswer },
      },
    },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      return metrics.serviceSeries(req.principal, projectId, serviceId, req.query as never);
    },
  );
  app.get(
    '/projects/:projectId/addons/:addonId/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Metrics of an addon over time',
        description: `Names: ${names('addon')}.`,
        params: Type.Object({ projectId: Type.String({ maxLength: 100 }), addonId: Type.String({ maxLength: 100 }) }),
        querystring: Query,
        response: { 200: SeriesAnswer },
      },
    },
    async (req) => {
      const { projectId, addonId } = req.params as { projectId: string; addonId: string };
      return metrics.addonSeries(req.principal, projectId, addonId, req.query as never);
    },
  );
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus text (0.0.4): the latest per-instance, per-service and per-addon numbers, labelled project, service or addon, instance',
        description: 'Needs a bearer token like every route (Prometheus: `authorization: { credentials: <token> }`); shows only the projects the token can read.',
      },
    },
    async (req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics.prometheus(req.principal)),
  );
}
