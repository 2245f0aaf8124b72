/** The `/v1` view of a service as the CLI reads it. */
import type { ApiClient } from './api-client.ts';
import type { AutoscaleStatusView } from './autoscale-view.ts';
import { servicePaths, type ServiceRef } from './service-ref.ts';

export interface ServiceView {
  id: string;
  serviceType: string;
  vcsData?: unknown;
  deployment?: { instances?: number; internal?: { id?: string; buildId?: string } };
  release?: { id: string; number: number };
  paused?: boolean;
  ports?: { name: string; internalPort: number; public?: boolean; protocol?: string; dns?: string }[];
  runtimeEnvironment?: Record<string, string>;
  status?: { deployment?: { status?: string; reason?: string; message?: string; lastTransitionTime?: string }; build?: { status: string }; autoscaling?: AutoscaleStatusView };
  [k: string]: unknown;
}

export async function getService(client: ApiClient, ref: ServiceRef): Promise<ServiceView> {
  return (await client.get<{ data: ServiceView }>(servicePaths(ref.project, ref.service).v1)).data;
}
