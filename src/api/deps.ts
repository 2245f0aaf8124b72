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
import type { BuildsService } from '../services/builds.ts';
import type { Store } from '../store/store.ts';
import type { JobsService } from '../jobs/jobs-service.ts';
import type { SecretGroupsService } from '../secrets/secret-groups.ts';
import type { EnvironmentDetailsService } from '../secrets/environment-details.ts';
import type { TagsService } from '../tags/tags-service.ts';
import type { VolumesService } from '../volumes/volumes-service.ts';
import type { AddonsService } from '../addons/addons-service.ts';
import type { MetricsReads } from '../observe/metrics/metrics-reads.ts';

export interface ApiDeps {
  logger: Logger;
  auth: AuthService;
  projects: ProjectsService;
  catalog: ServiceCatalog;
  builds: BuildsService;
  /** jobs and one-off runs; their routes are registered only when present */
  jobs?: JobsService;
  /** secret groups, environments with their sources, and tags; their routes are registered only when present */
  secrets?: { secretGroups: SecretGroupsService; environment: EnvironmentDetailsService; tags: TagsService };
  /** volumes and their backups; their routes are registered only when present */
  volumes?: VolumesService;
  /** addons (database and cache servers); their routes are registered only when present */
  addons?: AddonsService;
  store: Store;
  domain: string;
  bodyLimitBytes: number;
  uploadLimitBytes: number;
  /** the data directory (user TLS certificates live under it) */
  dataDir?: string;
  /** the data plane, for what it assigns (TCP ports) */
  router?: { tcpPortOf?(routeKey: string): number | undefined; address(): { httpPort: number; httpsPort?: number } };
  /** answers /healthz: false while starting or stopping */
  isHealthy: () => boolean;
  /** metrics over time and the Prometheus export; their routes are registered only when present */
  metrics?: MetricsReads;
}

export type Api = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;
