/**
 * The body of a native canary (`POST …/rollouts` with `strategy: canary`): steps by instances
 * (`instanceWeight`, as CF) or by requests (`trafficPercent`, 0-100 in steps of 0.1), optional pins, and an
 * optional automatic analysis. Rules beyond the schema (one share per step, 0.1 steps, names that are
 * tokens, a public HTTP port) are checked in services/canary-rollouts.ts, each naming its field.
 */
import { Type } from '@sinclair/typebox';

const PinTarget = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), value: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export const CanaryStepBody = Type.Object(
  {
    instanceWeight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    trafficPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    pin: Type.Optional(Type.Object({ header: Type.Optional(PinTarget), cookie: Type.Optional(PinTarget) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const CanaryAnalysisBody = Type.Object(
  {
    /** seconds of traffic per measurement */
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 600 })),
    failureLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    minRequests: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    inconclusive: Type.Optional(Type.Unsafe<'wait' | 'pause'>({ type: 'string', enum: ['wait', 'pause'] })),
    metrics: Type.Array(
      Type.Object(
        {
          name: Type.Unsafe<'errorRate' | 'latencyP50' | 'latencyP99'>({ type: 'string', enum: ['errorRate', 'latencyP50', 'latencyP99'] }),
          max: Type.Optional(Type.Number({ minimum: 0 })),
          maxAboveStable: Type.Optional(Type.Number({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 10 },
    ),
  },
  { additionalProperties: false },
);

export const CanaryBody = Type.Object({ steps: Type.Array(CanaryStepBody, { minItems: 1, maxItems: 20 }), analysis: Type.Optional(CanaryAnalysisBody) }, { additionalProperties: false });
