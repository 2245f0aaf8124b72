/**
 * What the API needs from the rest of the platform, and the app type every route module registers on. Its
 * own module so route modules need not import `app.ts`, which imports them all.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { AuthService } from '../services/auth.ts';
import type { ProjectsService } from '../services/projects.ts';
import type { ServiceCatalog } from '../services/service-catalog.ts';
import type { ServiceDeploys } from '../services/service-deploys.ts';
import type { BuildsService } from '../services/builds.ts';
import type { Store } from '../store/store.ts';
import type { JobsService } from '../jobs/jobs-service.ts';
import type { SecretGroupsService } from '../secrets/secret-groups.ts';
import type { EnvironmentDetailsService } from '../secrets/environment-details.ts';
import type { TagsService } from '../tags/tags-service.ts';
import type { VolumesService } from '../volumes/volumes-service.ts';
import type { AddonsService } from '../addons/addons-service.ts';
import type { FlowsService } from '../flows/flows-service.ts';
import type { FlowTriggers } from '../flows/triggers.ts';
import type { LogsService } from '../observe/logs/logs-service.ts';
import type { ObserveApi } from '../observe/observe-api.ts';
import type { MetricsReads } from '../observe/metrics/metrics-reads.ts';

import type { LeasesService } from '../leases/leases-service.ts';
export interface ApiDeps {
  logger: Logger;
  auth: AuthService;
  projects: ProjectsService;
  catalog: ServiceCatalog;
  /** deploys and rollouts of a service */
  deploys: ServiceDeploys;
  builds: BuildsService;
  /** jobs and one-off runs; their routes are registered only when present */
  jobs?: JobsService;
  /** secret groups, environments with their sources, and tags; their routes are registered only when present */
  secrets?: { secretGroups: SecretGroupsService; environment: EnvironmentDetailsService; tags: TagsService };
  /** volumes and their backups; their routes are registered only when present */
  volumes?: VolumesService;
  /** addons (database and cache servers); their routes are registered only when present */
  addons?: AddonsService;
  /** pipelines, release flows and their triggers; their routes are registered only when present */
  flows?: { service: FlowsService; triggers: FlowTriggers };
  store: Store;
  domain: string;
  bodyLimitBytes: number;
  uploadLimitBytes: number;
  /** the data directory (user TLS certificates live under it) */
  dataDir?: string;
  /** the data plane, for what it assigns (TCP ports) */
  router?: { tcpPortOf?(routeKey: string): number | undefined; address(): { httpPort: number; httpsPort?: number } };
  /** log search and streams (observe-logs); without it the log route reads the runtime's recent output */
  logs?: LogsService;
  /** log sinks, notification integrations, alert deliveries and uptime checks (observe-logs) */
  observe?: ObserveApi;
  /** answers /healthz: false while starting or stopping */
  isHealthy: () => boolean;
  /** the control plane's leases (`GET /leases`) and this replica's node id (reported at /healthz) */
  leases?: LeasesService;
  /** metrics over time and the Prometheus export; their routes are registered only when present */
  metrics?: MetricsReads;
}

export type Api = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;
