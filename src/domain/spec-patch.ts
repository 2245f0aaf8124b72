/**
 * PATCH semantics shared by services and jobs, as Northflank applies them: top-level fields replace;
 * `billing` and `deployment` merge one level, and `deployment.internal` / `external` replace each other
 * (a spec runs a build or an image, never both).
 */
interface Patchable {
  billing?: object;
  deployment?: { internal?: unknown; external?: unknown };
}

/** `base` is the deployment to merge into when the stored spec has none (a service's defaults). */
export function mergeSpecPatch<S extends Patchable>(cur: S, patch: Partial<S>, base?: S['deployment']): S {
  const next: S = { ...cur, ...patch };
  if (patch.billing) next.billing = { ...cur.billing, ...patch.billing };
  if (patch.deployment) {
    const d: NonNullable<S['deployment']> = { ...(cur.deployment ?? base), ...patch.deployment };
    if (patch.deployment.internal) delete d.external;
    if (patch.deployment.external) delete d.internal;
    next.deployment = d;
  }
  return next;
}
