/**
 * Composition root: config → store → runtime driver → router → probes → use cases → API and controllers.
 * The only file that names concrete drivers and dialects. Stops everything in reverse order on
 * SIGTERM/SIGINT; instances keep running (they outlive the control plane and are adopted on the next start).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from './config/config.ts';
import { openStore, type Store } from './store/store.ts';
import { SecretBox } from './store/secret-box.ts';
import { AuthService } from './services/auth.ts';
import { ProjectsService } from './services/projects.ts';
import { ServiceCatalog } from './services/service-catalog.ts';
import { ReleasesService } from './services/releases.ts';
import { BuildsService } from './services/builds.ts';
import type { Signals } from './services/ports.ts';
import { WorkQueue } from './controllers/queue.ts';
import { ServiceController } from './controllers/service/service-controller.ts';
import { RouteTableBuilder } from './controllers/service/route-table.ts';
import { BuildController } from './controllers/build/build-controller.ts';
import { ProbeScheduler } from './probes/scheduler.ts';
import { ProcessDriver } from './runtime/process/supervised-driver.ts';
import { DockerDriver } from './runtime/docker/docker-driver.ts';
import type { RuntimeDriver } from './runtime/driver.ts';
import { NodeRouter } from './router/node-proxy/node-router.ts';
import { HaproxyRouter } from './router/haproxy/haproxy-router.ts';
import { haproxyAvailable } from './router/haproxy/detect.ts';
import type { AccessLogEntry, Router } from './router/table.ts';
import { buildApi, type Api } from './api/app.ts';
import { buildNodeApp } from './builds/node-build.ts';
import { DockerfileBuilder, dockerfileBuildOf, imageTag } from './builds/docker-build.ts';
import { checkoutGit, commitInfo, resolveGitRef } from './builds/git-source.ts';
import { configureHostedRepos } from './builds/hosted-repos.ts';
import { extractBundle } from './builds/bundle-source.ts';
import { JobsService } from './jobs/jobs-service.ts';
import { JobController } from './jobs/job-controller.ts';
import { CronScheduler } from './jobs/cron-scheduler.ts';
import { AddonController } from './addons/addon-controller.ts';
import { AddonsService } from './addons/addons-service.ts';
import { ensureServerUser, type ServerUser } from './addons/server-user.ts';
import { PostgresEngine } from './addons/engines/postgres.ts';
import { MysqlEngine } from './addons/engines/mysql.ts';
import { RedisEngine } from './addons/engines/redis.ts';
import type { AddonEngine } from './addons/engines/engine.ts';
import type { AddonType } from './domain/addons.ts';

export interface Platform {
  config: Readonly<Config>;
  api: Api;
  router: Router;
  store: Store;
  apiUrl: string;
  routerPort: number;
  stop(): Promise<void>;
}

/**
 * The docker driver's scope: one per store (the SQLite file, or the PostgreSQL URL that control-plane replicas
 * share), so platforms sharing an engine keep to their own containers. A hash: the URL may hold a password.
 */
function dockerScope(config: Readonly<Config>): string {
  return createHash('sha256').update(config.databaseUrl ?? path.join(config.dataDir, 'slipway.db')).digest('hex').slice(0, 16);
}

export async function startPlatform(config: Readonly<Config>, logger: Logger): Promise<Platform> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  configureHostedRepos(path.join(config.dataDir, 'git'));
  const box = SecretBox.fromDataDir(config.dataDir);
  const store = await openStore({ url: config.databaseUrl, sqlitePath: path.join(config.dataDir, 'slipway.db'), box, onIdleError: (err) => logger.warn({ err: err.message }, 'database connection lost; reconnecting') });

  if (config.runtime === 'kubernetes') throw new Error(`SLIPWAY_RUNTIME=${config.runtime} is not available in this build: use 'process' or 'docker'`);
  const runtimeOpts = { stateDir: path.join(config.dataDir, 'runtime'), logger: logger.child({ component: 'runtime' }) };
  const driver: RuntimeDriver = config.runtime === 'docker' ? new DockerDriver({ ...runtimeOpts, artifactImage: config.dockerArtifactImage, scope: dockerScope(config) }) : new ProcessDriver({ ...runtimeOpts, isolation: config.isolation });
  const routerLog = logger.child({ component: 'router' });
  const accessLogger = logger.child({ component: 'access' });
  const accessLog = config.routerAccessLog ? (e: AccessLogEntry) => accessLogger.info(e, 'access') : undefined;
  if (config.router === 'haproxy' && !haproxyAvailable()) throw new Error("SLIPWAY_ROUTER=haproxy but haproxy is not installed: install the Debian package haproxy, or set SLIPWAY_ROUTER=builtin");
  const router: Router =
    config.router === 'haproxy'
      ? new HaproxyRouter({ host: config.routerHost, port: config.routerPort, tlsPort: config.routerTlsPort, metricsPort: config.routerMetricsPort, tcpPorts: config.routerTcpPorts, domain: config.domain, dataDir: config.dataDir, logger: routerLog, accessLog })
      : new NodeRouter({ host: config.routerHost, port: config.routerPort, tlsPort: config.routerTlsPort, metricsPort: config.routerMetricsPort, tcpPorts: config.routerTcpPorts, domain: config.domain, dataDir: config.dataDir, logger: routerLog, accessLog });

  let serviceQueue!: WorkQueue;
  let buildQueue!: WorkQueue;
  const signals: Signals = {
    serviceChanged: (key) => serviceQueue?.add(key),
    buildQueued: (id) => buildQueue?.add(id),
  };
  const probes = new ProbeScheduler({
    timeScale: config.probeTimeScale,
    runCmd: async (instanceId, cmd, timeoutMs) => {
      try {
        const r = await driver.exec(instanceId, ['/bin/sh', '-c', cmd], { timeoutMs });
        return r.exitCode === 0 ? { ok: true } : { ok: false, error: `exit ${r.exitCode}: ${r.output.slice(-200)}` };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    },
    onTransition: (key) => serviceQueue?.add(key),
  });
  const routes = new RouteTableBuilder(router, config.domain, { maxDrainMs: 10_000 });
  const unfollowInstances = routes.followInstances(driver);
  const controllerLog = logger.child({ component: 'controller' });
  const serviceController = new ServiceController(store, driver, probes, routes, {
    timeScale: config.probeTimeScale,
    gracePeriodCapSeconds: config.gracePeriodCapSeconds,
    logger: controllerLog,
    requeue: (key) => serviceQueue?.add(key),
  });

  const auth = new AuthService(store);
  const releases = new ReleasesService(store, signals, { progressDeadlineSeconds: config.progressDeadlineSeconds });
  const caps = { runtime: config.runtime, images: config.runtime === 'docker', dockerfile: config.runtime === 'docker' };
  const builds = new BuildsService(store, auth, signals, { resolve: (url, ref) => resolveGitRef({ url, ref }), commitInfo: (url, sha, since) => commitInfo({ url, sha, since }) }, config.dataDir);
  const catalog = new ServiceCatalog(store, auth, releases, signals, serviceController, caps, builds);
  const projects = new ProjectsService(store, auth, signals);
  const dockerfileBuilder = config.runtime === 'docker' ? new DockerfileBuilder() : undefined;
  const buildController = new BuildController(
    store,
    {
      checkoutGit: (o) => checkoutGit(o),
      extractBundle: (o) => extractBundle(o),
      build: (o) => buildNodeApp({ ...o, cacheDir: path.join(config.dataDir, 'npm-cache') }),
      // Dockerfile builds go to the engine the docker runtime runs on, and stay in its image store.
      ...(dockerfileBuilder
        ? { buildImage: (o) => dockerfileBuilder.build({ ...dockerfileBuildOf(o.spec), sourceDir: o.sourceDir, tag: imageTag(o.build.projectId, o.build.serviceId, o.build.id), log: o.log, signal: o.signal }) }
        : {}),
    },
    { artifactsDir: path.join(config.dataDir, 'artifacts'), logger: controllerLog, onFinished: (b) => releases.onBuildFinished(b) },
  );

  serviceQueue = new WorkQueue('services', (key) => serviceController.reconcile(key), { concurrency: 8, logger: controllerLog });
  buildQueue = new WorkQueue('builds', (id) => buildController.reconcile(id), { concurrency: 2, logger: controllerLog });
  const runsDir = path.join(config.dataDir, 'job-runs');
  const jobController = new JobController(store, driver, { runsDir, timeScale: config.probeTimeScale, gracePeriodCapSeconds: config.gracePeriodCapSeconds, resyncMs: config.resyncMs, logger: controllerLog, requeue: (id) => jobQueue.add(id) });
  const jobQueue = new WorkQueue('jobs', (id) => jobController.reconcile(id), { concurrency: 4, logger: controllerLog });
  const jobs = new JobsService(store, auth, jobController, { runsDir, images: config.runtime === 'docker' });
  const cron = new CronScheduler(store, jobs, { logger: controllerLog, runChanged: (id) => jobQueue.add(id) });

  // Addons: database and cache servers as supervised instances of the process runtime.
  let serverUser: ServerUser | undefined;
  const engines = new Map<AddonType, AddonEngine>([new PostgresEngine(), new MysqlEngine(), new RedisEngine()].map((e) => [e.type, e]));
  const addonController = new AddonController(store, driver, engines, {
    dataDir: config.dataDir,
    isolation: config.isolation,
    // Looked up (and the system user created if missing) when an addon server first starts, not before.
    get user() {
      return (serverUser ??= config.runtime === 'process' ? ensureServerUser(controllerLog) : { name: 'none', uid: 0, gid: 0, drop: false });
    },
    logger: controllerLog,
    requeue: (key) => addonQueue.add(key),
  });
  const addonQueue = new WorkQueue('addons', (key) => addonController.reconcile(key), { concurrency: 4, logger: controllerLog });
  const addons = new AddonsService(store, auth, engines, driver, { dataDir: config.dataDir, runtime: config.runtime, changed: (key) => addonQueue.add(key) });

  const { generated } = await auth.bootstrapAdmin(config.dataDir, config.adminToken);
  if (generated) {
    // Printed once, on first start, to stdout (not the log): the file in the data directory keeps it.
    process.stdout.write(`\nslipway admin token (also in ${path.join(config.dataDir, 'admin-token')}):\n  ${generated}\n\n`);
  }

  let healthy = false;
  const api = await buildApi({
    logger,
    auth,
    projects,
    catalog,
    builds,
    jobs,
    addons,
    store,
    domain: config.domain,
    dataDir: config.dataDir,
    router,
    bodyLimitBytes: config.bodyLimitBytes,
    uploadLimitBytes: config.uploadLimitBytes,
    isHealthy: () => healthy,
  });

  await router.start();
  const resync = async () => {
    for (const s of await store.services.listKeys()) serviceQueue.add(`${s.projectId}/${s.id}`);
    for (const key of await serviceController.runtimeKeys()) serviceQueue.add(key);
    for (const k of await store.addons.listKeys()) addonQueue.add(`${k.projectId}/${k.id}`);
    for (const key of await addonController.runtimeKeys()) addonQueue.add(key);
  };
  // Adopt what still runs and finish interrupted builds before taking requests.
  for (const key of await addonController.start()) addonQueue.add(key);
  await resync();
  for (const id of await buildController.requeueInterrupted()) buildQueue.add(id);
  await jobController.start();
  cron.start();
  const resyncTimer = setInterval(() => void resync().catch((err) => controllerLog.error({ err }, 'resync failed')), config.resyncMs);
  resyncTimer.unref();
  // CI by polling: every build and combined service with a repository builds its watched branch's new commits
  // (cached commits are not built twice; build rules apply).
  let polling = false;
  const pollRepos = async () => {
    if (polling) return;
    polling = true;
    try {
      for (const k of await store.services.listKeys()) {
        const svc = await store.services.find(k.projectId, k.id);
        if (!svc || svc.kind === 'deployment' || !svc.spec.vcsData?.projectUrl) continue;
        await builds.buildBranchHead(svc.projectId, svc.id).catch((err: Error) => controllerLog.warn({ service: `${svc.projectId}/${svc.id}`, err: err.message }, 'repository poll failed'));
      }
    } finally {
      polling = false;
    }
  };
  const pollTimer = config.repoPollMs > 0 ? setInterval(() => void pollRepos(), config.repoPollMs) : undefined;
  pollTimer?.unref();

  await api.listen({ host: config.apiHost, port: config.apiPort });
  healthy = true;
  const addr = api.server.address();
  const apiPort = typeof addr === 'object' && addr ? addr.port : config.apiPort;
  const apiUrl = `http://${config.apiHost}:${apiPort}`;
  logger.info({ api: apiUrl, routerPort: router.address().httpPort, runtime: config.runtime, router: router.name, store: store.dialect, dataDir: config.dataDir }, 'slipway started');

  let stopped = false;
  return {
    config,
    api,
    router,
    store,
    apiUrl,
    routerPort: router.address().httpPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      healthy = false;
      clearInterval(resyncTimer);
      if (pollTimer) clearInterval(pollTimer);
      await api.close();
      await cron.stop();
      jobController.stop();
      unfollowInstances();
      await jobQueue.stop();
      await addonQueue.stop();
      await buildQueue.stop();
      await serviceQueue.stop();
      probes.stop();
      await router.stop();
      await driver.close();
      await store.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', '*.authorization', '*.password', '*.runtimeEnvironment', '*.token'], censor: '[redacted]' },
  });
  const platform = await startPlatform(config, logger);
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    await platform.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('src/main.ts')) {
  main().catch((err) => {
    console.error('slipway failed to start:', err instanceof Error ? err.message : err, err?.cause ?? '');
    process.exit(1);
  });
}
