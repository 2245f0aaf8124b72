/**
 * Composition root: config → store → runtime driver → router → probes → use cases → API and controllers.
 * The only file that names concrete drivers and dialects. Stops everything in reverse order on
 * SIGTERM/SIGINT; instances and the router keep running (they outlive the control plane and are adopted on
 * the next start) unless SLIPWAY_STOP_ON_EXIT=all. See docs/restarts.md.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config, type ControllerKind } from './config/config.ts';
import { openStore, type Store } from './store/store.ts';
import { SecretBox } from './store/secret-box.ts';
import { AuthService } from './services/auth.ts';
import { ProjectsService } from './services/projects.ts';
import { ServiceCatalog } from './services/service-catalog.ts';
import { ServiceDeploys } from './services/service-deploys.ts';
import { ReleasesService } from './services/releases.ts';
import { BuildsService } from './services/builds.ts';
import type { Signals } from './services/ports.ts';
import { WorkQueue } from './controllers/queue.ts';
import { ServiceController } from './controllers/service/service-controller.ts';
import { RouteTableBuilder } from './controllers/service/route-table.ts';
import { ReleaseTraffic } from './controllers/service/release-traffic.ts';
import { BuildController } from './controllers/build/build-controller.ts';
import { ProbeScheduler } from './probes/scheduler.ts';
import { ProcessDriver } from './runtime/process/supervised-driver.ts';
import { DockerDriver } from './runtime/docker/docker-driver.ts';
import { KubernetesDriver } from './runtime/kubernetes/kubernetes-driver.ts';
import type { RuntimeDriver } from './runtime/driver.ts';
import { ProcessRouter } from './router/builtin-process/process-router.ts';
import { HaproxyRouter } from './router/haproxy/haproxy-router.ts';
import { haproxyAvailable } from './router/haproxy/detect.ts';
import { holdTables } from './router/warm-start.ts';
import type { AccessLogEntry, Router } from './router/table.ts';
import { buildApi, type Api } from './api/app.ts';
import { buildNodeApp } from './builds/node-build.ts';
import { isLoopbackRegistry, pushArtifactImage } from './builds/oci-image.ts';
import { DockerfileBuilder, dockerfileBuildOf, imageTag } from './builds/docker-build.ts';
import { checkoutGit, commitInfo, resolveGitRef } from './builds/git-source.ts';
import { configureHostedRepos } from './builds/hosted-repos.ts';
import { extractBundle } from './builds/bundle-source.ts';
import { JobsService } from './jobs/jobs-service.ts';
import { JobController } from './jobs/job-controller.ts';
import { CronScheduler } from './jobs/cron-scheduler.ts';
import { InheritedEnvironment } from './secrets/inherited.ts';
import { SecretGroupsService } from './secrets/secret-groups.ts';
import { EnvironmentDetailsService } from './secrets/environment-details.ts';
import { TagsService } from './tags/tags-service.ts';
import { VolumeStorage } from './volumes/volume-storage.ts';
import { ServiceVolumes } from './volumes/service-volumes.ts';
import { VolumeController } from './volumes/volume-controller.ts';
import { VolumesService } from './volumes/volumes-service.ts';
import { AddonController } from './addons/addon-controller.ts';
import { AddonsService } from './addons/addons-service.ts';
import { AddonRoutes } from './addons/external-access.ts';
import { ensureServerUser, type ServerUser } from './addons/server-user.ts';
import { PostgresEngine } from './addons/engines/postgres.ts';
import { MysqlEngine } from './addons/engines/mysql.ts';
import { RedisEngine } from './addons/engines/redis.ts';
import type { AddonEngine } from './addons/engines/engine.ts';
import type { AddonType } from './domain/addons.ts';
import { FlowsService } from './flows/flows-service.ts';
import { FlowRunner } from './flows/runner.ts';
import { FlowTriggers } from './flows/triggers.ts';
import { startObserve } from './observe/observe.ts';
import { openNotifier } from './store/dialect/notify.ts';
import { SharedRoutes, ROUTES_CHANNEL } from './replicas/shared-routes.ts';
import { SharedArtifacts } from './replicas/shared-artifacts.ts';
import { SharedObserver } from './replicas/shared-observer.ts';
import { Autoscaler } from './autoscaler/autoscaler.ts';
import { DirectSignals, MetricsSignals } from './autoscaler/signals.ts';
import { webInstances } from './autoscaler/instances.ts';
import { MetricsRepo } from './store/metrics-repo.ts';
import { MetricsSampler } from './observe/metrics/sampler.ts';
import { SignalsReader, type MetricSignals } from './observe/metrics/signals.ts';
import { MetricsReads } from './observe/metrics/metrics-reads.ts';
import { LeaseKeeper, REPLICA_STOPPING } from './leases/lease-keeper.ts';
import { currentLease, fencedStore, guard } from './leases/fence.ts';
import { LEASES, gatedPass, serviceLease, serviceLeases } from './leases/work.ts';
import { LeasesService } from './leases/leases-service.ts';

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

/**
 * The kubernetes driver: Pods in `<prefix><project>` namespaces; a release built from source runs as its
 * artifact pushed as a layer on the base image to SLIPWAY_REGISTRY (src/builds/oci-image.ts).
 */
function kubernetesDriver(config: Readonly<Config>, runtimeOpts: { stateDir: string; logger: Logger }): RuntimeDriver {
  const k = config.kubernetes;
  const reg = config.registry;
  const credentials = reg?.username && reg.password ? { username: reg.username, password: reg.password } : undefined;
  const registryHost = reg?.repository.split('/')[0];
  return new KubernetesDriver({
    ...runtimeOpts,
    ...(k.kubeconfig ? { kubeconfig: k.kubeconfig } : { inCluster: k.inCluster }),
    namespacePrefix: k.namespacePrefix,
    scope: dockerScope(config),
    ...(k.nodeName ? { nodeName: k.nodeName } : {}),
    ...(k.storageClass ? { storageClass: k.storageClass } : {}),
    ...(reg
      ? {
          imageOfArtifact: (artifactDir, labels, log) =>
            pushArtifactImage({
              artifactDir,
              baseImage: k.baseImage,
              target: `${reg.repository}/${labels.project}/${labels.service}`,
              ...(credentials ? { credentials } : {}),
              ...(reg.insecure !== undefined ? { insecure: (endpoint) => (endpoint === registryHost ? reg.insecure! : isLoopbackRegistry(endpoint)) } : {}),
              log,
            }),
          ...(credentials && registryHost ? { artifactPullAuth: { ...credentials, serveraddress: registryHost } } : {}),
        }
      : {}),
  });
}

/**
 * The lease of the log collector: `logs/<runtime>`, the runtime named by a hash of this machine's name and
 * the process runtime's directory, or of the engine scope (docker, kubernetes).
 */
function logsLease(config: Readonly<Config>): string {
  const runtime = config.runtime === 'process' ? `${os.hostname()}:${path.resolve(config.runtimeDir)}` : `${config.runtime}:${dockerScope(config)}`;
  return `${LEASES.logs}/${createHash('sha256').update(runtime).digest('hex').slice(0, 12)}`;
}

/**
 * What a caller may put in place of a part `config` would choose. Only the benchmarks use it (bench/scale.ts
 * runs the control plane over a runtime stand-in, named so in its output): no setting selects it.
 */
export interface PlatformParts {
  driver?: RuntimeDriver;
}

export async function startPlatform(config: Readonly<Config>, logger: Logger, parts: PlatformParts = {}): Promise<Platform> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  configureHostedRepos(path.join(config.dataDir, 'git'));
  // Replicas on one database must share the key (docs/high-availability.md); the store refuses another one.
  const box = config.secretKey ? SecretBox.fromKey(config.secretKey) : SecretBox.fromDataDir(config.dataDir);
  const keySource = config.secretKey ? 'SLIPWAY_SECRET_KEY' : path.join(config.dataDir, 'secret.key');
  if (config.databaseUrl && !config.secretKey) logger.warn({ keyFile: keySource }, 'PostgreSQL store without SLIPWAY_SECRET_KEY: secrets are sealed with this data directory\'s key; a second control plane on this database needs SLIPWAY_SECRET_KEY set to it');
  const store = await openStore({ url: config.databaseUrl, sqlitePath: path.join(config.dataDir, 'slipway.db'), box, keySource, onIdleError: (err) => logger.warn({ err: err.message }, 'database connection lost; reconnecting') });

  // Control-plane replicas share the store; each controller and singleton runs on one of them at a time,
  // under a lease (docs/high-availability.md). With SQLite there is one replica, which takes every lease.
  const leaseLog = logger.child({ component: 'leases', node: config.nodeId });
  const keeper = new LeaseKeeper(store.leases, { nodeId: config.nodeId, ttlMs: config.leaseTtlMs, renewMs: config.leaseRenewMs, logger: leaseLog, takeOverAtStart: config.databaseUrl ? 'own' : 'all' });
  const leaseOfService = (key: string) => serviceLease(key, config.leaseShards);
  const holds = (name: string) => keeper.held(name) !== undefined;

  const runtimeOpts = { stateDir: config.runtimeDir, logger: logger.child({ component: 'runtime' }) };
  // Replicas on one database: an instance may run an artifact another replica built (src/replicas/shared-artifacts.ts).
  const sharedArtifacts = config.databaseUrl ? new SharedArtifacts(store.blobs, path.join(config.dataDir, 'artifacts')) : undefined;
  const localDriver: RuntimeDriver =
    config.runtime === 'docker'
      ? new DockerDriver({ ...runtimeOpts, artifactImage: config.dockerArtifactImage, scope: dockerScope(config) })
      : config.runtime === 'kubernetes'
        ? kubernetesDriver(config, runtimeOpts)
        : new ProcessDriver({ ...runtimeOpts, isolation: config.isolation });
  const driver = parts.driver ?? (sharedArtifacts ? sharedArtifacts.driver(localDriver) : localDriver);
  const routerLog = logger.child({ component: 'router' });
  const accessLogger = logger.child({ component: 'access' });
  const logAccess = config.routerAccessLog ? (e: AccessLogEntry) => accessLogger.info(e, 'access') : undefined;
  // Every request the router answers also feeds the per-release metrics canary analysis reads (docs/canary.md):
  // the data planes report them while either the access log or the release metrics are on (both by default).
  const releaseTraffic = new ReleaseTraffic();
  const accessLog =
    config.routerReleaseMetrics || logAccess
      ? (e: AccessLogEntry) => {
          if (config.routerReleaseMetrics) releaseTraffic.record(e);
          logAccess?.(e);
        }
      : undefined;
  // HAProxy writes its lines whole, in the log's own shape (router/haproxy/access-log-format.ts): they go to
  // the same standard output as the rest of the log, as read, with no parsing.
  const haproxyAccessLog =
    config.routerReleaseMetrics || config.routerAccessLog
      ? {
          // Access lines are `info` lines: a log level above that leaves them out, as it does the built-in router's.
          ...(config.routerAccessLog && accessLogger.isLevelEnabled('info') ? { lines: (chunk: Buffer) => void process.stdout.write(chunk) } : {}),
          ...(config.routerReleaseMetrics ? { requests: (route: string, endpoint: string, status: number, durationMs: number) => releaseTraffic.recordFields(route, endpoint, status, durationMs) } : {}),
        }
      : undefined;
  if (config.router === 'haproxy' && !haproxyAvailable()) throw new Error("SLIPWAY_ROUTER=haproxy but haproxy is not installed: install the Debian package haproxy, or set SLIPWAY_ROUTER=builtin");
  const dataPlane: Router =
    config.router === 'haproxy'
      ? new HaproxyRouter({ host: config.routerHost, port: config.routerPort, tlsPort: config.routerTlsPort, metricsPort: config.routerMetricsPort, tcpPorts: config.routerTcpPorts, domain: config.domain, dataDir: config.dataDir, logger: routerLog, accessLog: haproxyAccessLog })
      : // The built-in proxy runs in a process of its own that outlives the control plane (see docs/restarts.md).
        new ProcessRouter({ host: config.routerHost, port: config.routerPort, tlsPort: config.routerTlsPort, metricsPort: config.routerMetricsPort, tcpPorts: config.routerTcpPorts, domain: config.domain, dataDir: config.dataDir, accessLog: !!accessLog, logLevel: config.logLevel, logger: routerLog, ...(accessLog ? { accessLogSink: accessLog } : {}) });

  // Several control planes on one PostgreSQL database: every replica's router serves the merged table of all
  // (src/replicas/shared-routes.ts), told of changes by NOTIFY and a poll.
  // One id per replica for its leases and its routing table row (SLIPWAY_NODE_ID; docs/high-availability.md).
  const nodeId = config.nodeId;
  const notifier = config.databaseUrl ? openNotifier(config.databaseUrl, (err) => logger.warn({ err: err.message }, 'store notifications interrupted; polling meanwhile')) : undefined;
  const sharedRoutes = notifier
    ? new SharedRoutes(dataPlane, store.db, { nodeId, logger: routerLog, notify: () => notifier.notify(ROUTES_CHANNEL), onNudge: (wake) => notifier.listen(ROUTES_CHANNEL, wake) })
    : undefined;

  // A replica may run only some controllers (SLIPWAY_CONTROLLERS); a kind it does not run drops its keys.
  const runs = (kind: ControllerKind) => config.controllers.has(kind);
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
    // A runtime that runs the health checks itself (the kubernetes runtime's Pod probes) reports readiness.
    ...(driver.readiness ? { runtimeReadiness: (id: string) => driver.readiness!(id) } : {}),
  });
  // Until the controllers have seen every running instance's readiness again, the data plane keeps serving
  // the table it holds (one adopted from the previous run) rather than the partial tables of a warm-up.
  const held = holdTables(sharedRoutes ?? dataPlane, {
    maxHoldMs: 30_000,
    isWarm: async (latest) => {
      const routed = new Set(latest.routes.flatMap((r) => r.endpoints.map((e) => e.id)));
      for (const inst of await driver.list()) {
        if (inst.state !== 'running' || inst.labels.processType !== 'web' || inst.endpoints.length === 0) continue;
        const ps = probes.state(inst.id);
        if (!ps) return false; // no pass has seen it yet
        if (ps.ready ? !routed.has(inst.id) : !Object.values(ps.probes).some((p) => p && p.consecutiveFailures > 0)) return false;
      }
      return true;
    },
    onRelease: (why) => routerLog.info({ why }, why === 'warm' ? 'routing table handed to the router' : 'routing table handed to the router before every instance had a probe verdict'),
  });
  const router = held.router;

  // Routes set by a controller pass carry its lease and epoch: across replicas the newest epoch's wins.
  const routes = new RouteTableBuilder(router, config.domain, {
    maxDrainMs: 10_000,
    fenceOf: () => {
      const lease = currentLease();
      return lease && { lease: lease.name, epoch: lease.epoch };
    },
  });
  const unfollowInstances = routes.followInstances(driver);
  const controllerLog = logger.child({ component: 'controller' });
  const volumeStorage = new VolumeStorage(config.dataDir);
  // Its writes (rollout progress, instance records, status, events) are fenced by the service's lease epoch.
  const serviceController = new ServiceController(fencedStore(store, keeper), driver, probes, routes, {
    guard: () => guard(keeper),
    timeScale: config.probeTimeScale,
    minReadySeconds: config.minReadySeconds,
    lastOldHoldSeconds: config.lastOldHoldSeconds,
    gracePeriodCapSeconds: config.gracePeriodCapSeconds,
    progressDeadlineSeconds: config.progressDeadlineSeconds,
    logger: controllerLog,
    requeue: (key) => serviceQueue?.add(key),
    volumes: new ServiceVolumes(store, volumeStorage),
    traffic: releaseTraffic,
  });
  const unfollowServiceInstances = serviceController.followInstances(driver);

  const auth = new AuthService(store);
  // Linked addons' credentials are read when a release is derived; the addons service is built below.
  const inherited = new InheritedEnvironment(store, { credentials: (projectId, addonId) => addons.credentials(projectId, addonId) });
  const releases = new ReleasesService(store, signals, { progressDeadlineSeconds: config.progressDeadlineSeconds }, inherited);
  const caps = { runtime: config.runtime, images: config.runtime !== 'process', dockerfile: config.runtime === 'docker' };
  const builds = new BuildsService(store, auth, signals, { resolve: (url, ref) => resolveGitRef({ url, ref }), commitInfo: (url, sha, since) => commitInfo({ url, sha, since }) }, config.dataDir);
  // Horizontal autoscaling: sets deployment.instances of autoscaled services (see docs/autoscaling.md).
  // It reads the metrics sampler (built below); with metrics collection off, the runtime and the router directly.
  const autoscaleSignals =
    config.metricsIntervalSeconds > 0
      ? new MetricsSignals(() => metricSignals, (samplerSeconds) => Math.max(config.autoscaleIntervalSeconds, 3 * samplerSeconds))
      : new DirectSignals(driver, () => {
          const port = router.address().metricsPort;
          return port ? `127.0.0.1:${port}` : undefined;
        });
  const autoscaler = new Autoscaler(store, autoscaleSignals, {
    intervalMs: config.autoscaleIntervalSeconds * 1000,
    downStabilizationMs: config.autoscaleDownStabilizationSeconds * 1000,
    logger: logger.child({ component: 'autoscaler' }),
    instances: (key) => webInstances(serviceController, driver, key),
    serviceChanged: (key) => serviceQueue?.add(key),
  });
  // Several replicas: the API shows every replica's instances, not only those this one's runtime runs.
  const sharedObserver = config.databaseUrl ? new SharedObserver(serviceController, store.db, { nodeId, logger: controllerLog }) : undefined;
  const catalog = new ServiceCatalog(store, auth, releases, signals, sharedObserver ?? serviceController, caps, builds, autoscaler);
  const deploys = new ServiceDeploys(store, auth, releases, signals, sharedObserver ?? serviceController, catalog);
  const projects = new ProjectsService(store, auth, signals);
  let volumeQueue!: WorkQueue;
  const volumeController = new VolumeController(store, driver, volumeStorage, { logger: controllerLog, serviceChanged: (key) => serviceQueue?.add(key) });
  const volumes = new VolumesService(store, auth, volumeStorage, {
    volumeChanged: (key) => volumeQueue?.add(key),
    serviceChanged: (key) => serviceQueue?.add(key),
    volumeDeleted: async (names) => {
      for (const name of names) await driver.removeVolume?.(name);
    },
  });
  const dockerfileBuilder = config.runtime === 'docker' ? new DockerfileBuilder() : undefined;
  const buildController = new BuildController(
    store,
    {
      checkoutGit: (o) => checkoutGit(o),
      extractBundle: (o) => extractBundle(o),
      build: async (o) => {
        const out = await buildNodeApp({ ...o, cacheDir: path.join(config.dataDir, 'npm-cache') });
        // In the store before the build is SUCCESS, so no replica can start an artifact it cannot fetch.
        if (sharedArtifacts) {
          o.log('-----> Storing the artifact for the other control-plane replicas');
          await sharedArtifacts.upload(o.outDir);
        }
        return out;
      },
      // Dockerfile builds go to the engine the docker runtime runs on, and stay in its image store.
      ...(dockerfileBuilder
        ? { buildImage: (o) => dockerfileBuilder.build({ ...dockerfileBuildOf(o.spec), sourceDir: o.sourceDir, tag: imageTag(o.build.projectId, o.build.serviceId, o.build.id), log: o.log, signal: o.signal }) }
        : {}),
    },
    { artifactsDir: path.join(config.dataDir, 'artifacts'), shareLogs: !!config.databaseUrl, logger: controllerLog, onFinished: (b) => releases.onBuildFinished(b), buildArguments: (svc) => inherited.buildArguments(svc) },
  );

  // A resync's passes over idle services take two workers at most: the other six (and the store's connections
  // the API shares) stay free for services with something to do.
  const servicePass = gatedPass(keeper, leaseOfService, (key) => serviceController.reconcile(key));
  // A pass something asked for (an event, a rollout's next step) may change what the service's instances
  // look like: the other replicas hear of it at the next publication. A resync's pass finds drift, which
  // the observer's own sweep publishes.
  serviceQueue = new WorkQueue('services', (key, lane) => servicePass(key).finally(() => lane === 'now' && sharedObserver?.changed(key)), { concurrency: 8, backgroundConcurrency: 2, logger: controllerLog });
  volumeQueue = new WorkQueue('volumes', gatedPass(keeper, () => LEASES.volumes, (key) => volumeController.reconcile(key)), { concurrency: 2, logger: controllerLog });
  buildQueue = new WorkQueue('builds', gatedPass(keeper, () => LEASES.builds, (id) => buildController.reconcile(id)), { concurrency: 2, logger: controllerLog });
  const runsDir = path.join(config.dataDir, 'job-runs');
  const jobController = new JobController(store, driver, { runsDir, shareLogs: !!config.databaseUrl, timeScale: config.probeTimeScale, gracePeriodCapSeconds: config.gracePeriodCapSeconds, resyncMs: config.resyncMs, logger: controllerLog, requeue: (id) => jobQueue.add(id) });
  const jobQueue = new WorkQueue('jobs', gatedPass(keeper, () => LEASES.jobs, (id) => jobController.reconcile(id)), { concurrency: 4, logger: controllerLog });
  const jobs = new JobsService(store, auth, jobController, { runsDir, images: config.runtime !== 'process', inherited });
  const cron = new CronScheduler(store, jobs, { logger: controllerLog, runChanged: (id) => jobQueue.add(id) });

  // Addons: database and cache servers as supervised instances of the process runtime.
  let serverUser: ServerUser | undefined;
  const engines = new Map<AddonType, AddonEngine>([new PostgresEngine(), new MysqlEngine(), new RedisEngine()].map((e) => [e.type, e]));
  const addonController = new AddonController(store, driver, engines, {
    dataDir: config.dataDir,
    isolation: config.isolation,
    // Looked up (and the system user created if missing) when an addon server first starts, not before.
    get user() {
      return (serverUser ??= ensureServerUser(controllerLog));
    },
    // On the docker runtime each type's server runs from its configured image.
    ...(config.runtime === 'process' ? {} : { images: config.addonImages }),
    logger: controllerLog,
    requeue: (key) => addonQueue.add(key),
    domain: config.domain,
    // Services that read the addon through a secret group roll out with the new password.
    credentialsChanged: (projectId, addonId, change) => secretGroups.addonCredentialsChanged(projectId, addonId, change),
  });
  // External access (src/addons/external-access.ts): each pass brings the addon's TCP route in line with its row.
  const addonRoutes = new AddonRoutes(store, routes, router, config.domain);
  const addonQueue = new WorkQueue('addons', gatedPass(keeper, () => LEASES.addons, (key) => addonController.reconcile(key).finally(() => addonRoutes.sync(key))), { concurrency: 4, logger: controllerLog });
  const addons = new AddonsService(store, auth, engines, driver, { dataDir: config.dataDir, runtime: config.runtime, images: config.addonImages, changed: (key) => addonQueue.add(key), external: (a) => addonRoutes.external(a) });
  const secretGroups = new SecretGroupsService(store, auth, releases, addons);
  // Pipelines and release flows: runs are written by the service and executed by the runner.
  let flowRunner: FlowRunner | undefined;
  const flows = new FlowsService(store, auth, () => flowRunner?.wake());
  flowRunner = new FlowRunner({ store, flows, catalog, deploys, builds, jobs, addons, logger: controllerLog });
  const flowTriggers = new FlowTriggers(flows, controllerLog);

  // Metrics over time (src/observe/metrics/, docs/metrics.md). `metricSignals` is the reader for decisions
  // (the autoscaler): latest CPU/memory per instance, requests per second, readiness.
  const metricsRepo = new MetricsRepo(store.db);
  const metricsSampler = new MetricsSampler(driver, store, metricsRepo, {
    intervalSeconds: config.metricsIntervalSeconds,
    rawRetentionSeconds: config.metricsRawRetentionHours * 3600,
    rollupRetentionSeconds: config.metricsRetentionDays * 86_400,
    logger: logger.child({ component: 'metrics' }),
    routerMetricsPort: () => router.address().metricsPort,
    routes: () => routes.routeList(),
    // HAProxy's exporter has no histogram: its percentiles come from the per-request stream (docs/metrics.md).
    requestPercentiles: (projectId, serviceId, fromMs, toMs) => {
      const l = releaseTraffic.latency(`${projectId}/${serviceId}`, fromMs, toMs);
      return l && { p50: l.p50Ms / 1000, p90: l.p90Ms / 1000, p99: l.p99Ms / 1000 };
    },
  });
  const metricSignals: MetricSignals = new SignalsReader(metricsSampler, (id) => probes.state(id)?.ready ?? false);
  const metricsReads = new MetricsReads(store, auth, metricsRepo, metricsSampler, { intervalSeconds: config.metricsIntervalSeconds, rawRetentionSeconds: config.metricsRawRetentionHours * 3600 });

  const { generated } = await auth.bootstrapAdmin(config.dataDir, config.adminToken);
  if (generated) {
    // Printed once, on first start, to stdout (not the log): the file in the data directory keeps it.
    process.stdout.write(`\nslipway admin token (also in ${path.join(config.dataDir, 'admin-token')}):\n  ${generated}\n\n`);
  }

  // Logs, log sinks and alerts (docs/logs.md, docs/alerts.md).
  const observe = await startObserve({ config, store, box, auth, driver, routerAddress: () => router.address(), logger: logger.child({ component: 'observe' }) });

  let healthy = false;
  const api = await buildApi({
    logger,
    auth,
    projects,
    catalog,
    deploys,
    builds,
    jobs,
    secrets: { secretGroups, environment: new EnvironmentDetailsService(store, auth, inherited), tags: new TagsService(store, auth) },
    volumes,
    addons,
    flows: { service: flows, triggers: flowTriggers },
    store,
    domain: config.domain,
    dataDir: config.dataDir,
    router,
    bodyLimitBytes: config.bodyLimitBytes,
    uploadLimitBytes: config.uploadLimitBytes,
    isHealthy: () => healthy,
    logs: observe.logs,
    observe: observe.api,
    metrics: metricsReads,
    leases: new LeasesService(auth, keeper),
  });

  await router.start();
  // Every key of the controllers whose lease this replica holds (a change made through another replica's API
  // reaches the lease holder here, at the latest one resync period later).
  const resyncServices = async (lease?: string) => {
    const keys = [...(await store.services.listKeys()).map((s) => `${s.projectId}/${s.id}`), ...(await serviceController.runtimeKeys())];
    // In the background lane: a service with work to do (a rollout's next step) goes before idle ones.
    for (const key of keys) if (lease ? leaseOfService(key) === lease : holds(leaseOfService(key))) serviceQueue.addBackground(key);
  };
  const resyncVolumes = async () => {
    for (const key of await volumeController.resyncKeys()) volumeQueue.add(key);
    await volumeController.sweepNow();
  };
  const resyncAddons = async () => {
    for (const k of await store.addons.listKeys()) addonQueue.add(`${k.projectId}/${k.id}`);
    for (const key of await addonController.runtimeKeys()) addonQueue.add(key);
  };
  const resync = async () => {
    await resyncServices();
    if (holds(LEASES.volumes)) await resyncVolumes();
    if (holds(LEASES.addons)) await resyncAddons();
    if (holds(LEASES.builds)) for (const b of await store.builds.listByStatus(['QUEUED'])) buildQueue.add(b.id);
  };
  // What runs under which lease; the first round (below) takes every free lease and starts its work in this
  // order: adopt what still runs, resume volume operations and finish interrupted builds before taking requests.
  // A replica runs only the controller kinds SLIPWAY_CONTROLLERS names: it seeks no lease of the others.
  if (runs('addons')) keeper.register(LEASES.addons, {
    start: async () => {
      for (const key of await addonController.start()) addonQueue.add(key);
      await resyncAddons();
    },
    stop: () => undefined,
  });
  if (runs('services')) {
    for (const name of serviceLeases(config.leaseShards)) keeper.register(name, {
      start: () => resyncServices(name),
      // A shard lost to another replica: its routes are the new holder's to publish. On this replica's own
      // stop the router keeps them (it outlives the control plane and serves until the next one adopts).
      stop: (why) => (why === REPLICA_STOPPING ? undefined : routes.dropServices((key) => !key.startsWith('addon:') && leaseOfService(key) === name)),
    });
    keeper.register(LEASES.volumes, { start: resyncVolumes, stop: () => undefined });
    keeper.register(LEASES.autoscaler, { start: () => autoscaler.start(), stop: () => autoscaler.stop() });
  }
  if (runs('builds')) keeper.register(LEASES.builds, {
    start: async () => {
      for (const id of await buildController.requeueInterrupted()) buildQueue.add(id);
    },
    stop: () => undefined,
  });
  if (runs('jobs')) {
    keeper.register(LEASES.jobs, { start: () => jobController.start(), stop: () => jobController.stop() });
    keeper.register(LEASES.cron, { start: () => cron.start(), stop: () => cron.stop() });
  }
  if (runs('flows')) keeper.register(LEASES.flows, { start: () => flowRunner.start(), stop: () => flowRunner.stop() });
  keeper.register(LEASES.metrics, { start: () => metricsSampler.start(), stop: () => metricsSampler.stop() });
  // The log collector reads the output of the instances its runtime runs: one holder per runtime (replicas
  // sharing a runtime directory, or an engine scope, compete for it; replicas with runtimes of their own each
  // collect theirs).
  keeper.register(logsLease(config), observe.work.logs);
  keeper.register(LEASES.alerts, observe.work.alerts);
  // The API's schemas compile first: that takes seconds of the event loop, which would starve the renewals
  // of leases already taken.
  await api.ready();
  await keeper.start();
  held.begin();
  sharedObserver?.start();
  const resyncTimer = setInterval(() => void resync().catch((err) => controllerLog.error({ err }, 'resync failed')), config.resyncMs);
  resyncTimer.unref();
  // CI by polling: every build and combined service with a repository builds its watched branch's new commits
  // (cached commits are not built twice; build rules apply).
  let polling = false;
  const pollRepos = async () => {
    if (polling || !holds(LEASES.builds)) return;
    polling = true;
    try {
      for (const svc of await store.services.listOpen()) {
        if (svc.kind === 'deployment' || !svc.spec.vcsData?.projectUrl) continue;
        await builds.buildBranchHead(svc.projectId, svc.id).catch((err: Error) => controllerLog.warn({ service: `${svc.projectId}/${svc.id}`, err: err.message }, 'repository poll failed'));
      }
    } finally {
      polling = false;
    }
  };
  // Caught here: an error that escaped a timer would end the process (a row this replica cannot read did).
  const pollTimer = config.repoPollMs > 0 && runs('builds') ? setInterval(() => void pollRepos().catch((err: Error) => controllerLog.error({ err }, 'repository poll failed')), config.repoPollMs) : undefined;
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
      // Stops every work this replica runs under a lease and releases the leases: other replicas take them
      // over at once instead of waiting for them to expire.
      await keeper.stop();
      await observe.stop();
      sharedObserver?.stop();
      unfollowInstances();
      unfollowServiceInstances();
      await jobQueue.stop();
      await addonQueue.stop();
      await buildQueue.stop();
      await volumeQueue.stop();
      await serviceQueue.stop();
      probes.stop();
      held.cancel();
      if (config.stopOnExit === 'all') {
        await router.stop();
        const running = (await driver.list()).filter((i) => i.state !== 'exited');
        await Promise.all(running.map((i) => driver.stop(i.id, Math.min(30, config.gracePeriodCapSeconds ?? 30)).catch((err: Error) => logger.warn({ instance: i.id, err: err.message }, 'instance not stopped'))));
        logger.info({ instances: running.length, router: router.name }, 'stopped the router and every instance (SLIPWAY_STOP_ON_EXIT=all)');
      } else {
        const running = (await driver.list().catch(() => [])).filter((i) => i.state !== 'exited');
        if (router.detach) await router.detach();
        else await router.stop();
        logger.info(
          { instances: running.length, router: router.name, routerKeptRunning: !!router.detach },
          `${running.length} instance(s)${router.detach ? ' and the router' : ''} keep running and are adopted on the next start (SLIPWAY_STOP_ON_EXIT=all stops them)`,
        );
      }
      await driver.close();
      await notifier?.close();
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
