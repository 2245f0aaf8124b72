/**
 * The `/v1` face against the official client's own declarations: every `/v1` route slipway serves (read from
 * `/openapi.json`, so a new route cannot be forgotten) maps to an endpoint of `@northflank/js-client`, and the
 * `data` of every response, read through the client where it has the call, carries every property the
 * client's result type requires, with the declared primitive types and enum values, all the way down.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiClient } from '@northflank/js-client';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { api, fixtureRepo, freePort, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { clientDeclarations, clientEndpoints, type ClientEndpoint } from './support/client-types.ts';
import { checkShape, requestGaps, type JsonSchema, type Problem } from './support/shape-check.ts';
import { waitForAddonStatus } from './support/addons.ts';

/** `/v1` routes slipway serves that the client has no endpoint for, each with the reason. */
const NOT_IN_CLIENT: Record<string, string> = {
  'PUT /v1/tags/:_': "the client's put.tag sends PUT /v1/tags and names the tag in the body; slipway also takes the id in the path, as it does for PATCH and DELETE",
  'POST /v1/projects/:_/volumes/:_/backups/:_/restore': "the client restores addon backups only (restore.addon.backup); restoring a volume's backup into that same volume is slipway's own (the client's way is create.volume with source.type 'backup')",
  'POST /v1/projects/:_/addons/:_/import/upload': "an import from a dump file sent as the body: Northflank records such backups (source fileUpload) but neither its public API nor the client has a call that sends the file (import.addon.backup takes a URL or a connection string), so slipway's own route sits beside it; exercised below with plain HTTP and the same token",
  'GET /v1/projects/:_/addons/:_/backups/:_/download': "the file behind the link the client's get.addon.backup.download answers (downloadLink): the client reads the link, and the file is fetched with plain HTTP and the same token",
  'POST /v1/projects/:_/pipelines': 'the client reads pipelines (list.pipelines, get.pipeline) but has no call to make one; slipway takes the shape get.pipeline answers (name, description, nfObjects)',
  'PATCH /v1/projects/:_/pipelines/:_': 'as POST: the client has no call to change a pipeline',
  'DELETE /v1/projects/:_/pipelines/:_': 'as POST: the client has no call to delete a pipeline',
  'POST /v1/projects/:_/pipelines/:_/stages/:_/release-flow/runs/:_/rollback': "rolling a stage back to the state after a run is slipway's own (a new run naming the restored one): the client has no call for it",
};

/**
 * `/v1` GET routes that cannot answer 200 for any resource slipway can create yet, by client route, each with
 * the reason: the test reads them and asserts the 404 instead of a shape.
 */
const UNREADABLE: Record<string, string> = {
  '/v1/projects/:_/secrets/:_/addons/:_': 'secret groups cannot link addons yet (a link write is refused naming addonId), so no group has an addon link: reading one answers 404 naming the addon',
};

/**
 * Required properties slipway leaves out (or answers otherwise) on purpose, by the problem's path and rule
 * (the route and parameters left out), each with the reason a truthful value cannot be given.
 */
const DELIBERATE: Record<string, string> = {
  'settings.activeDeadlineSeconds must be a number, got null': 'a job without a deadline has none (null): any number would be a deadline slipway does not enforce',
  'activeDeadlineSeconds must be a number, got null': 'as settings.activeDeadlineSeconds',
  'jobType must be "cron", got string "manual"': "the client types the kind-neutral PATCH job's result as a cron job's; a manual job stays manual",
  // Only a project viewer reads it (an owner or developer reads the contents): the group's file, inherited.
  'runtimeFiles./etc/shapes.conf.value.data must be a string, got null':
    "a viewer may not read values, and every value it may not read reads null (docs/secret-groups.md), a file's contents too: leaving data out would read as an empty file",
  // Keyed by the resource too: only the service that has no source yet.
  '{"projectId":"shapes","serviceId":"later"} internal is required':
    "a deployment service created to 'choose later' deploys nothing yet: it has neither internal nor external, which the client's GetServiceDeploymentResult requires one of",
};

/**
 * Addon fields the client's request types allow that pass the body schema (their types are the client's) and
 * are refused by the addon service with a 422 naming them; the test sends each (ADDON_REFUSALS).
 */
const ADDON_REFUSED_FIELDS: { routes: RegExp; paths: string[]; why: string }[] = [
  { routes: /\/addons(\/[^/]+)?$/, paths: ['tlsEnabled', 'ipPolicies'], why: 'IP policies for addons are not built (external access goes through the router, unfiltered); TLS is chosen at create (a PUT or PATCH changing it is refused)' },
  { routes: /\/addons$/, paths: ['source'], why: 'a PUT naming an existing addon cannot fork it (a fork makes a new addon): restore the backup into it instead' },
  { routes: /\/addons$/, paths: ['infrastructure.architecture'], why: "addons run on this machine's architecture (x86): 'arm' is refused" },
  { routes: /\/addons$/, paths: ['billing.zonalRedundancy'], why: "addons run on one machine, one zone: 'required' (or more than one zone) is refused, 'disabled' is what runs" },
  { routes: /\/addons(\/[^/]+)?$/, paths: ['typeSpecificSettings.redisSentinelEnabled', 'typeSpecificSettings.postgresqlSupabaseMode', 'typeSpecificSettings.postgresqlConnectionPoolerEnabled', 'typeSpecificSettings.postgresqlConnectionPoolerReplicas', 'typeSpecificSettings.postgresqlReadConnectionPoolerEnabled', 'typeSpecificSettings.postgresqlReadConnectionPoolerReplicas', 'typeSpecificSettings.postgresqlImportMode', 'typeSpecificSettings.mysqlHaModeEnabled', 'typeSpecificSettings.mysqlRouterReplicas'], why: 'sentinels, Supabase, connection poolers, import mode and MySQL HA do not run here: refused when turned on (false and 0 are taken)' },
  { routes: /\/addons(\/[^/]+)?$/, paths: ['backupSchedules.additionalDestinations'], why: 'a backup is stored in one place (the data directory, or the backup destination customDestinationId names): no additional destinations' },
  { routes: /\/(backups|backup-schedules)$/, paths: ['additionalDestinations'], why: 'a backup is stored in one place (the data directory, or the backup destination customDestinationId names): no additional destinations' },
  { routes: /\/import$/, paths: ['importAllDatabases'], why: 'an import dumps the one database a live connection string names (or downloads one dump from importUrl): no all-databases import' },
];

/**
 * Request fields the client's types allow that slipway refuses on purpose (a 400 naming the field; a 422 for
 * ADDON_REFUSED_FIELDS, which the schema takes), by the
 * routes they concern, each with the reason. Everything else a client's request type allows is accepted.
 */
const REFUSED_REQUEST_FIELDS: { routes: RegExp; paths: string[]; why: string }[] = [
  { routes: /^\/v1\//, paths: ['buildFiles', 'dockerSecretMounts'], why: 'build files and Docker secret mounts do not exist here: builds take build arguments' },
  { routes: /\/secrets(\/|$)/, paths: ['secrets.dockerSecretMounts'], why: "a group's Docker secret mounts would only reach Docker builds' secret mounts, which slipway's builds do not have (as for services): a group gives build arguments" },
  { routes: /\/services\//, paths: ['deployment.strategy.type', 'deployment.strategy.settings'], why: "the 'custom' strategy and its surge settings: rollouts take the presets recreate and rollout-steady|balanced|fast" },
  { routes: /\/services\//, paths: ['deployment.gradualRolloutStrategyId'], why: 'gradual rollout strategies are not a resource here (canary rollouts are the native and /v3 faces)' },
  { routes: /\/services\//, paths: ['deployment.ssh'], why: 'slipway has no SSH access to instances' },
  { routes: /\/services\/(deployment|combined)$/, paths: ['createOptions'], why: 'volumes to attach at creation arrive with the /v1 volume routes' },
  { routes: /\/jobs(\/|$)/, paths: ['disabledCI', 'buildConfiguration', 'buildSettings', 'buildArguments'], why: "a job runs a service's build or an image: jobs build nothing of their own here" },
  { routes: /\/jobs(\/|$)/, paths: ['healthChecks'], why: 'a job run is a process that runs to completion: no probes' },
  { routes: /\/scale$/, paths: ['gracePeriodSeconds'], why: "scaling takes the count and plan; the grace period is the service's deployment.gracePeriodSeconds" },
  { routes: /\/resume$/, paths: ['disabledCI', 'disabledCD'], why: 'resume brings the service back as it was: CI and CD are set on the service' },
  { routes: /\/runs$/, paths: ['runtimeFiles', 'deployment.storage', 'deployment.external'], why: "a run overrides the job's environment, plan, command and build; its files, storage and image are the job's" },
  { routes: /\/addons(\/[^/]+)?$/, paths: ['templateValues'], why: "template addons (the client's second CreateAddonData, a Helm-style bundle with its values) do not exist here: the addon types are postgresql, mysql and redis" },
  ...ADDON_REFUSED_FIELDS,
];

/**
 * For each addon field of REFUSED_REQUEST_FIELDS the schema takes, a request that sends it (to the addon the test
 * creates, `cache`) and the field the 422 names.
 */
const ADDON_REFUSALS: { route: string; path: string; method: string; url: string; body: Record<string, unknown>; field: string }[] = (() => {
  const base = { name: 'refused', type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } };
  const daily = { scheduling: { interval: 'daily', minute: [0], hour: [4] }, backupType: 'dump', retentionTime: 7 };
  const hourly = { scheduling: { interval: 'hourly', minute: [15] }, backupType: 'dump', retentionTime: 1 }; // cache has a daily one
  const create = (path: string, body: Record<string, unknown>, field = path) => ({ route: '/v1/projects/{projectId}/addons', path, method: 'POST', url: '/v1/projects/shapes/addons', body: { ...base, ...body }, field });
  // A PUT naming the existing addon updates it: the same fields are refused on that path too.
  const put = (path: string, body: Record<string, unknown>) => ({ ...create(path, { name: 'cache', ...body }), method: 'PUT' });
  const on = (route: string, path: string, body: Record<string, unknown>, field = path) => ({ route: `/v1/projects/{projectId}/addons/{addonId}${route}`, path, method: 'POST', url: `/v1/projects/shapes/addons/cache${route}`, body, field });
  return [
    create('ipPolicies', { ipPolicies: [{ addresses: ['10.0.0.0/8'], action: 'ALLOW' }] }),
    create('infrastructure.architecture', { infrastructure: { architecture: 'arm' } }),
    create('billing.zonalRedundancy', { billing: { ...base.billing, zonalRedundancy: { type: 'required' } } }),
    put('source', { source: { addonId: 'cache', backupId: 'any' } }),
    put('infrastructure.architecture', { infrastructure: { architecture: 'arm' } }),
    put('billing.zonalRedundancy', { billing: { ...base.billing, zonalRedundancy: { type: 'required', minZones: 2 } } }),
    put('tlsEnabled', { tlsEnabled: true }),
    create('typeSpecificSettings.redisSentinelEnabled', { typeSpecificSettings: { redisSentinelEnabled: true } }),
    ...['postgresqlSupabaseMode', 'postgresqlConnectionPoolerEnabled', 'postgresqlReadConnectionPoolerEnabled', 'postgresqlImportMode'].map((k) => create(`typeSpecificSettings.${k}`, { type: 'postgresql', typeSpecificSettings: { [k]: true } })),
    ...['postgresqlConnectionPoolerReplicas', 'postgresqlReadConnectionPoolerReplicas'].map((k) => create(`typeSpecificSettings.${k}`, { type: 'postgresql', typeSpecificSettings: { [k]: 1 } })),
    create('typeSpecificSettings.mysqlHaModeEnabled', { type: 'mysql', typeSpecificSettings: { mysqlHaModeEnabled: true } }),
    create('typeSpecificSettings.mysqlRouterReplicas', { type: 'mysql', typeSpecificSettings: { mysqlRouterReplicas: 1 } }),
    create('backupSchedules.additionalDestinations', { backupSchedules: [{ ...daily, additionalDestinations: [{ destinationId: 'bucket', type: 'custom' }] }] }, 'backupSchedules.0.additionalDestinations'),
    on('/backups', 'additionalDestinations', { additionalDestinations: [{ destinationId: 'bucket', type: 'custom' }] }),
    on('/backup-schedules', 'additionalDestinations', { ...hourly, additionalDestinations: [{ destinationId: 'bucket', type: 'custom' }] }),
    on('/import', 'importAllDatabases', { connectionString: 'redis://127.0.0.1:1', importAllDatabases: true }),
  ];
})();

const norm = (route: string) => route.replace(/\{(\w+)\}/g, ':$1').replace(/:\w+/g, ':_');

describe("the /v1 face answers in the official client's result types", () => {
  let p: RunningPlatform;
  let client: ApiClient;
  let endpoints: ClientEndpoint[];
  const repo = fixtureRepo('hello');
  const project = 'shapes';
  /** Problems found in any response, by the call that answered it. */
  const problems: string[] = [];
  const flowAt = { projectId: project, pipelineId: 'shipping', stage: 'Production' };
  const ids = { build: '', run: '', credential: '', secret: '', tag: '', volume: '', backup: '', addonBackup: '', schedule: '', flowRun: '', destination: '', destinationBackup: '' };
  /** s3rver: the STAND-IN for an S3 endpoint (none is packaged in Debian here) behind a backup destination */
  let s3: S3rver | undefined;
  const s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-shapes-s3-'));
  const addon = { projectId: project, addonId: 'cache' };
  const ledger = { projectId: project, addonId: 'ledger' };
  /** Waits for an addon backup to complete (or throws if it failed). */
  async function addonBackupDone(backupId: string): Promise<void> {
    await waitFor(async () => {
      const b = (await client.get.addon.backup({ parameters: { ...addon, backupId } })).data;
      if (b.status === 'failed') throw new Error(`addon backup failed: ${JSON.stringify(b)}`);
      return b.status === 'completed';
    }, 120_000, `addon backup ${backupId} completed`);
  }
  /** Waits for an addon restore to complete (or throws if it failed), then for the addon to run again. */
  async function addonRestoreDone(restoreId: string): Promise<void> {
    await waitFor(async () => {
      const r = (await client.get.addon.restores({ parameters: addon })).data.restores.find((x) => x.id === restoreId);
      if (r?.status === 'failed') throw new Error(`addon restore failed: ${JSON.stringify(r)}`);
      return r?.status === 'completed';
    }, 180_000, `addon restore ${restoreId} completed`);
    await waitForAddonStatus(client, project, addon.addonId, 'running');
  }

  /** Calls the client at `callPath` and checks the response's `data` against the endpoint's result type. */
  async function call(callPath: string, req: Record<string, unknown>): Promise<any> {
    const ep = endpoints.find((e) => e.call === callPath);
    assert.ok(ep, `the client has a call ${callPath}`);
    const fn = callPath.split('.').reduce<any>((o, k) => o[k], client);
    const res = await fn(req);
    record(ep, JSON.stringify(req.parameters ?? {}), res.data);
    return res.data;
  }
  function record(ep: ClientEndpoint, label: string, data: unknown): void {
    const found: Problem[] = checkShape(clientDeclarations().resultOf(ep.name), data);
    // A deliberate problem is named by its path and rule (without the type a missing property should have),
    // optionally after the parameters of the one resource it concerns.
    const deliberate = (pr: Problem) => [`${pr.path} ${pr.rule}`, `${label} ${pr.path} ${pr.rule}`].some((k) => DELIBERATE[k] ?? DELIBERATE[k.replace(/ \(.*\)$/, '')]);
    for (const pr of found) if (!deliberate(pr)) problems.push(`${ep.method} ${ep.route} ${label}: ${pr.path || '(data)'} ${pr.rule}`);
  }
  const svc = (serviceId: string) => ({ projectId: project, serviceId });

  before(async () => {
    endpoints = clientEndpoints();
    p = await startTestPlatform();
    client = await northflankClient(p);
    await call('create.project', { data: { name: project, description: 'shapes' } });
    await call('create.service.combined', {
      parameters: { projectId: project },
      data: {
        name: 'web',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 1 },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        buildSettings: { buildpack: { builder: 'HEROKU_24' } },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP', domains: ['web.shapes.example.test'] }],
        runtimeEnvironment: { GREETING: 'shapes' },
      },
    });
    // The client's minimal build service: no branch (a build service builds branches by its rules).
    await call('create.service.build', {
      parameters: { projectId: project },
      data: {
        name: 'builder',
        billing: {},
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted' },
        buildSettings: { buildpack: {} },
        buildConfiguration: { branchRestrictions: ['main', 'release/*'], prRestrictions: ['*'] },
      },
    });
    await call('create.service.deployment', {
      parameters: { projectId: project },
      data: { name: 'runner', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0, internal: { id: 'web', branch: 'main' } }, ports: [{ name: 'p01', internalPort: 8080, public: false, protocol: 'HTTP' }], healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/healthz', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }] },
    });
    await call('pause.service', { parameters: svc('runner') });
    await call('create.service.deployment', { parameters: { projectId: project }, data: { name: 'later', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0 } } as never });
    await waitFor(async () => {
      const r = await client.get.service({ parameters: svc('web') });
      const st = (r.data as any).status?.deployment?.status;
      if (st === 'FAILED') throw new Error(`web failed: ${JSON.stringify(r.data)}`);
      return st === 'COMPLETED';
    }, 180_000, 'web COMPLETED');
    ids.build = (await client.get.service.builds({ parameters: svc('web') })).data.builds[0].id;
    await call('create.job.manual', { parameters: { projectId: project }, data: { name: 'task', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'web' } }, command: 'echo done' } as never });
    await call('create.job.cron', { parameters: { projectId: project }, data: { name: 'tick', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'web' } }, command: 'echo tick', schedule: '0 0 1 1 *' } as never });
    ids.run = (await call('start.job.run', { parameters: { projectId: project, jobId: 'task' } })).id;
    // A run reports startedAt and concludedAt (both required by the client) once it has concluded.
    await waitFor(async () => (await client.get.job.run({ parameters: { projectId: project, jobId: 'task', runId: ids.run } })).data.concluded, 120_000, 'job run concluded');
    // The production layer: a tag, a secret group (variables and a file) that applies to the services runner and
    // keeper (whose own A overrides the group's) and the job task, and a volume attached to keeper, backed up once.
    await call('create.service.deployment', {
      parameters: { projectId: project },
      data: { name: 'keeper', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 1, internal: { id: 'web', branch: 'main' } }, ports: [{ name: 'p01', internalPort: 8080, public: false, protocol: 'HTTP' }], runtimeEnvironment: { A: 'own' } } as never,
    });
    ids.tag = (await call('add.tag', { data: { name: 'shapes-live', description: 'live traffic', color: '#00aa00' } })).id;
    ids.secret = (await call('create.secret', {
      parameters: { projectId: project },
      data: {
        name: 'shapes config',
        description: 'shared settings',
        tags: ['shapes-live'],
        secretType: 'environment-arguments',
        priority: 10,
        restrictions: { restricted: true, nfObjects: [{ id: 'runner', type: 'service' }, { id: 'keeper', type: 'service' }, { id: 'task', type: 'job' }] },
        secrets: { variables: { LEVEL: 'info', A: 'from the group' }, files: { '/etc/shapes.conf': { data: Buffer.from('level=info\n').toString('base64'), encoding: 'utf-8' } } },
      },
    })).id;
    ids.volume = (await call('create.volume', {
      parameters: { projectId: project },
      data: { name: 'keeper-data', mounts: [{ containerMountPath: '/data' }], spec: { accessMode: 'ReadWriteOnce', storageSize: 1024 }, attachedObjects: [{ id: 'keeper', type: 'service' }] },
    })).id;
    await waitFor(async () => {
      const v = (await client.get.volume({ parameters: { projectId: project, volumeId: ids.volume } })).data as any;
      return v.status === 'BOUND' && v.operation === null;
    }, 120_000, 'volume bound and attached');
    ids.backup = (await call('backup.volume', { parameters: { projectId: project, volumeId: ids.volume }, data: { name: 'first', description: 'shapes' } })).id;
    await waitFor(async () => {
      const b = (await client.get.volume.backup({ parameters: { projectId: project, volumeId: ids.volume, backupId: ids.backup } })).data as any;
      if (b.status === 'failed') throw new Error(`backup failed: ${JSON.stringify(b)}`);
      return b.status === 'completed';
    }, 120_000, 'volume backup completed');
    ids.credential = (await call('add.registryCredentials', { data: { name: 'shapes registry', provider: 'custom', registryUrl: 'http://127.0.0.1:5000', credentials: { username: 'u', password: 'p', scope: { pull: true } } } as never })).id;
    // An addon: a real Redis server (the quickest to start), backed up once, restored from that backup, and
    // given a backup schedule, so that its backups, restores and schedules have something to list.
    await call('create.addon', {
      parameters: { projectId: project },
      data: { name: 'cache', description: 'shapes cache', tags: ['shapes-live'], type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 }, typeSpecificSettings: { redisMaxMemoryPolicy: 'allkeys-lru' } },
    });
    // And a PostgreSQL one with its own database name (customCredentials), read beside it.
    await call('create.addon', {
      parameters: { projectId: project },
      data: { name: 'ledger', type: 'postgresql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 }, customCredentials: { dbName: 'ledger_db' } },
    });
    await waitForAddonStatus(client, project, addon.addonId, 'running');
    await waitForAddonStatus(client, project, ledger.addonId, 'running');
    ids.addonBackup = (await call('backup.addon', { parameters: addon, data: { name: 'first', backupType: 'dump' } })).id;
    await addonBackupDone(ids.addonBackup);
    await addonRestoreDone((await call('restore.addon.backup', { parameters: { ...addon, backupId: ids.addonBackup } })).restoreId);
    // Log sinks (a Loki and an HTTP one) and a notification integration: account-level integrations.
    await call('create.logSink', { data: { name: 'shapes loki', sinkType: 'loki', sinkData: { endpoint: 'http://127.0.0.1:9', encoding: { codec: 'json' }, auth: { strategy: 'basic', user: 'u', password: 'p' } } } });
    await call('create.logSink', { data: { name: 'shapes http', sinkType: 'http', restricted: true, projects: [project], sinkData: { uri: 'http://127.0.0.1:9/in', encoding: { codec: 'json' }, auth: { strategy: 'bearer', token: 't' } } } });
    await call('pause.logSink', { parameters: { logSinkId: 'shapes-http' } });
    await call('create.notification', { parameters: {}, data: { name: 'shapes hook', type: 'RAW_WEBHOOK', webhook: 'http://127.0.0.1:9/hook', secret: 's', events: { 'trigger:build:failure': true } } });
    ids.schedule = (await call('create.addon.backupSchedule', { parameters: addon, data: { scheduling: { interval: 'daily', minute: [0], hour: [3] }, backupType: 'dump', retentionTime: 7 } })).id;
    // A pipeline with a release flow, run once and aborted while its condition node waits.
    const made = await api(p, 'POST', `/v1/projects/${project}/pipelines`, { name: 'shipping', description: 'shapes', nfObjects: [{ id: 'runner', type: 'service', stage: 'Staging' }, { id: 'keeper', type: 'service', stage: 'Production' }, { id: 'task', type: 'job', stage: 'Production' }, { id: 'cache', type: 'addon', stage: 'Production' }] });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    await call('update.releaseFlow', {
      parameters: flowAt,
      data: {
        apiVersion: 'v1.2',
        arguments: { NOTE: 'shapes' },
        options: { concurrencyPolicy: 'queue', paused: false },
        spec: { kind: 'Workflow', spec: { type: 'sequential', steps: [{ kind: 'Condition', ref: 'wait', spec: { type: 'success', kind: 'JobRun', spec: { jobId: 'task' }, timeoutDuration: 300 } }, { kind: 'Release', spec: { type: 'deployment', origin: { id: 'runner', type: 'service' }, target: { id: 'keeper', type: 'service' } } }] } },
      },
    });
    ids.flowRun = (await call('run.releaseFlow', { parameters: flowAt, data: { name: 'shapes run', description: 'shapes', arguments: { NOTE: 'run' } } })).id;
    await call('abort.releaseFlowRun', { parameters: { ...flowAt, runId: ids.flowRun } });
    await waitFor(async () => (await client.get.releaseFlowRun({ parameters: { ...flowAt, runId: ids.flowRun } })).data.concluded, 60_000, 'release flow run aborted');
    // A backup destination (an S3 bucket on s3rver) and a backup of ledger stored there.
    const s3Port = await freePort();
    s3 = new S3rver({ address: '127.0.0.1', port: s3Port, silent: true, directory: s3Dir, configureBuckets: [{ name: 'shapes-bucket', configs: [] }] });
    await s3.run();
    ids.destination = (await call('add.backupDestination', { data: { name: 'shapes bucket', type: 's3', prefix: 'shapes', credentials: { accessKey: 'S3RVER', secretKey: 'S3RVER', bucketName: 'shapes-bucket', region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}` } } })).id;
    await call('patch.backupDestination', { parameters: { backupDestinationId: ids.destination }, data: { description: 'shapes' } });
    ids.destinationBackup = (await call('backup.addon', { parameters: ledger, data: { name: 'to the bucket', backupType: 'dump', customDestinationId: ids.destination } })).id;
    await waitFor(async () => {
      const b = (await client.get.addon.backup({ parameters: { ...ledger, backupId: ids.destinationBackup } })).data;
      if (b.status === 'failed') throw new Error(`backup to the destination failed: ${JSON.stringify(b)}`);
      return b.status === 'completed';
    }, 120_000, 'backup to the destination');
  });
  after(async () => {
    await p?.stop();
    await s3?.close();
    fs.rmSync(s3Dir, { recursive: true, force: true });
  });

  it('maps every /v1 route slipway serves to an endpoint of the client, or names why the client has none', async () => {
    const doc = (await api(p, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const missing: string[] = [];
    for (const [route, ops] of Object.entries(doc.paths)) {
      if (!route.startsWith('/v1')) continue;
      for (const method of Object.keys(ops)) {
        const key = `${method.toUpperCase()} ${norm(route)}`;
        if (NOT_IN_CLIENT[key]) continue;
        if (!endpoints.some((e) => `${e.method} ${norm(e.route)}` === key)) missing.push(`${method.toUpperCase()} ${route}`);
      }
    }
    assert.deepEqual(missing, [], 'routes with no client endpoint: add them to NOT_IN_CLIENT with a reason, or shape them as the client declares');
  });

  it('answers every /v1 GET route with every required property of its result type, for each kind of resource it serves', async () => {
    const kinds = { deployment: svc('runner'), combined: svc('web'), build: svc('builder'), later: svc('later') };
    const job = (jobId: string) => ({ projectId: project, jobId });
    // Each GET route, by its client route, with the parameters it is read with (every resource kind it applies to).
    const cases: Record<string, Record<string, unknown>[]> = {
      '/v1/plans': [{}],
      '/v1/projects': [{}],
      '/v1/projects/:_': [{ projectId: project }],
      '/v1/projects/:_/services': [{ projectId: project }],
      '/v1/projects/:_/services/:_': Object.values(kinds),
      '/v1/projects/:_/services/:_/ports': [kinds.combined, kinds.deployment],
      '/v1/projects/:_/services/:_/runtime-environment': [kinds.combined, kinds.deployment],
      '/v1/projects/:_/services/:_/health-checks': [kinds.combined, kinds.deployment],
      '/v1/projects/:_/services/:_/deployment': [kinds.combined, kinds.deployment, kinds.later],
      '/v1/projects/:_/services/:_/build-arguments': [kinds.combined, kinds.build],
      '/v1/projects/:_/services/:_/containers': [kinds.combined, kinds.deployment],
      '/v1/projects/:_/services/:_/build': [kinds.combined, kinds.build],
      '/v1/projects/:_/services/:_/build/:_': [{ ...kinds.combined, buildId: ids.build }],
      '/v1/projects/:_/jobs': [{ projectId: project }],
      '/v1/projects/:_/jobs/:_': [job('task'), job('tick')],
      '/v1/projects/:_/jobs/:_/runtime-environment': [job('task')],
      '/v1/projects/:_/jobs/:_/deployment': [job('task'), job('tick')],
      '/v1/projects/:_/jobs/:_/runs': [job('task')],
      '/v1/projects/:_/jobs/:_/runs/:_': [{ ...job('task'), runId: ids.run }],
      '/v1/integrations/registries': [{}],
      '/v1/integrations/registries/:_': [{ credentialId: ids.credential }],
      '/v1/backup-destinations': [{}],
      '/v1/backup-destinations/:_': [{ backupDestinationId: ids.destination }],
      '/v1/backup-destinations/:_/backups': [{ backupDestinationId: ids.destination }],
      '/v1/projects/:_/secrets': [{ projectId: project }],
      '/v1/projects/:_/secrets/:_': [{ projectId: project, secretId: ids.secret }],
      '/v1/projects/:_/secrets/:_/details': [{ projectId: project, secretId: ids.secret }],
      '/v1/projects/:_/secrets/:_/addons/:_': [{ projectId: project, secretId: ids.secret, addonId: 'db' }],
      '/v1/projects/:_/services/:_/runtime-environment/details': [kinds.combined, kinds.deployment, svc('keeper')],
      '/v1/projects/:_/jobs/:_/runtime-environment/details': [job('task'), job('tick')],
      '/v1/tags': [{}],
      '/v1/tags/:_': [{ resourceTagId: ids.tag }],
      '/v1/projects/:_/volumes': [{ projectId: project }],
      '/v1/projects/:_/volumes/:_': [{ projectId: project, volumeId: ids.volume }],
      '/v1/projects/:_/volumes/:_/backups': [{ projectId: project, volumeId: ids.volume }],
      '/v1/projects/:_/volumes/:_/backups/:_': [{ projectId: project, volumeId: ids.volume, backupId: ids.backup }],
      '/v1/addon-types': [{}],
      '/v1/projects/:_/addons': [{ projectId: project }],
      '/v1/projects/:_/addons/:_': [addon, ledger],
      '/v1/projects/:_/addons/:_/version': [addon, ledger],
      '/v1/projects/:_/addons/:_/containers': [addon, ledger],
      '/v1/projects/:_/addons/:_/credentials': [addon, ledger],
      '/v1/projects/:_/addons/:_/backup-schedules': [addon],
      '/v1/projects/:_/addons/:_/backups': [addon],
      '/v1/projects/:_/addons/:_/backups/:_': [{ ...addon, backupId: ids.addonBackup }],
      '/v1/projects/:_/addons/:_/backups/:_/restores': [{ ...addon, backupId: ids.addonBackup }],
      '/v1/projects/:_/addons/:_/restores': [addon],
      '/v1/projects/:_/addons/:_/backups/:_/download-link': [{ ...addon, backupId: ids.addonBackup }],
      '/v1/projects/:_/pipelines': [{ projectId: project }],
      '/v1/projects/:_/pipelines/:_': [{ projectId: project, pipelineId: 'shipping' }],
      '/v1/projects/:_/pipelines/:_/release-flows/:_': [flowAt],
      '/v1/projects/:_/pipelines/:_/release-flows/:_/runs': [flowAt],
      '/v1/projects/:_/pipelines/:_/release-flows/:_/runs/:_': [{ ...flowAt, runId: ids.flowRun }],
      '/v1/integrations/log-sinks': [{}],
      '/v1/integrations/log-sinks/:_': [{ logSinkId: 'shapes-loki' }, { logSinkId: 'shapes-http' }],
      '/v1/integrations/notifications': [{}],
      '/v1/integrations/notifications/:_': [{ notificationId: 'shapes-hook' }],
    };
    const doc = (await api(p, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const uncovered: string[] = [];
    for (const [route, ops] of Object.entries(doc.paths)) {
      if (!route.startsWith('/v1') || !ops.get || NOT_IN_CLIENT[`GET ${norm(route)}`]) continue;
      const paramSets = cases[norm(route)];
      const ep = endpoints.find((e) => e.method === 'GET' && norm(e.route) === norm(route));
      if (!paramSets || !ep) {
        uncovered.push(route);
        continue;
      }
      for (const parameters of paramSets) {
        if (UNREADABLE[norm(route)]) {
          const url = route.replace(/\{(\w+)\}/g, (_m, k: string) => String(parameters[k]));
          const res = await api(p, 'GET', url);
          assert.equal(res.status, 404, `${url} (${UNREADABLE[norm(route)]}): ${JSON.stringify(res.body)}`);
        } else if (ep.call) await call(ep.call, { parameters });
        else {
          const url = route.replace(/\{(\w+)\}/g, (_m, k: string) => String(parameters[k]));
          const res = await api(p, 'GET', url);
          assert.equal(res.status, 200, `${url}: ${JSON.stringify(res.body)}`);
          record(ep, JSON.stringify(parameters), res.body.data);
        }
      }
    }
    assert.deepEqual(uncovered, [], 'GET routes with no case here: add the parameters they are read with');
    // The project names its addon, as it names its services and jobs.
    assert.deepEqual((await client.get.project({ parameters: { projectId: project } })).data.addons.map((a) => [a.id, a.spec.type]), [['cache', 'redis'], ['ledger', 'postgresql']]);
    // (GetAddonResult does not declare customCredentials; CreateAddonResult does, and slipway answers both alike.)
    assert.equal(((await client.get.addon({ parameters: ledger })).data as { customCredentials?: { dbName?: string } }).customCredentials?.dbName, 'ledger_db');
    // The download link answers the backup's file, to the same token.
    const { downloadLink } = (await client.get.addon.backup.download({ parameters: { ...addon, backupId: ids.addonBackup } })).data;
    const file = await fetch(downloadLink, { headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(file.status, 200);
    assert.equal(Buffer.from(await file.arrayBuffer()).subarray(0, 5).toString(), 'REDIS', 'an RDB file');
  });

  it("answers a project viewer's reads of values it may not see in the same result types", async () => {
    const made = await api(p, 'POST', '/tokens', { name: 'shapes viewer', role: 'viewer', projectId: project });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const viewer = await northflankClient(p, made.body.token);
    const reads: [string, Record<string, unknown>][] = [
      ['get.secret', { projectId: project, secretId: ids.secret }],
      ['get.secretDetails', { projectId: project, secretId: ids.secret }],
      ['get.service.runtimeEnvironment', svc('keeper')],
      ['get.service.runtimeEnvironmentDetails', svc('keeper')],
      ['get.job.runtimeEnvironmentDetails', { projectId: project, jobId: 'task' }],
    ];
    for (const [callPath, parameters] of reads) {
      const ep = endpoints.find((e) => e.call === callPath)!;
      const res = await callPath.split('.').reduce<any>((o, k) => o[k], viewer)({ parameters });
      assert.ok(!JSON.stringify(res.data).includes('from the group'), `${callPath}: no value for a viewer`);
      record(ep, `viewer ${JSON.stringify(parameters)}`, res.data);
    }
  });

  it('refuses each addon field it lists as refused with a 422 naming the field, and creates nothing', async () => {
    for (const r of ADDON_REFUSALS) {
      const res = await api(p, r.method, r.url, r.body);
      assert.equal(res.status, 422, `${r.method} ${r.url} ${r.path}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error.details?.[r.field], `${r.method} ${r.url}: ${r.field} named in ${JSON.stringify(res.body)}`);
    }
    // The table and the requests agree: every addon field listed as refused is sent by a case.
    for (const entry of ADDON_REFUSED_FIELDS) {
      for (const path of entry.paths) {
        const routes = ADDON_REFUSALS.filter((r) => r.path === path && entry.routes.test(r.route));
        assert.ok(routes.length, `${path} (${entry.why}) is sent by a case of ADDON_REFUSALS`);
      }
    }
    assert.deepEqual((await client.list.addons({ parameters: { projectId: project } })).data.addons.map((a) => a.id), ['cache', 'ledger'], 'nothing created');
    const backups = (await client.get.addon.backups({ parameters: addon })).data.backups.map((b) => b.id);
    assert.deepEqual(backups, [ids.addonBackup], 'no backup made');
    assert.deepEqual((await client.get.addon.backupSchedules({ parameters: addon })).data.schedules?.map((x) => x.id), [ids.schedule], 'no schedule added');
  });

  it('answers the writes the client makes (creates, updates, actions) in their result types too', async () => {
    await call('patch.service.combined', { parameters: svc('web'), data: { description: 'patched', stageId: 'development' } as never });
    await call('patch.service.build', { parameters: svc('builder'), data: { buildConfiguration: { branchRestrictions: ['main'] } } as never });
    await call('patch.project', { parameters: { projectId: project }, data: { description: 'patched' } });
    await call('update.service.runtimeEnvironment', { parameters: svc('runner'), data: { runtimeEnvironment: { A: '1' } } });
    await call('update.service.healthChecks', { parameters: svc('runner'), data: { healthChecks: [] } });
    await call('update.service.deployment', { parameters: svc('runner'), data: { instances: 0 } as never });
    await call('update.service.buildArguments', { parameters: svc('builder'), data: { buildArguments: { X: '1' } } });
    await call('update.service.ports', { parameters: svc('runner'), data: { ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }, { name: 'p02', internalPort: 9090, public: false, protocol: 'TCP' }] } as never });
    await call('patch.job', { parameters: { projectId: project, jobId: 'task' }, data: { description: 'patched', stageId: 'development' } as never });
    await call('update.job.runtimeEnvironment', { parameters: { projectId: project, jobId: 'task' }, data: { runtimeEnvironment: { B: '2' } } });
    await call('update.registryCredentials', { parameters: { credentialId: ids.credential }, data: { restrictions: { restricted: false } } as never });
    await call('resume.service', { parameters: svc('runner') });
    await call('put.project', { data: { name: project, description: 'put' } });
    await call('put.service.deployment', {
      parameters: { projectId: project },
      data: { name: 'runner', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0, internal: { id: 'web', branch: 'main' } }, ports: [{ name: 'p01', internalPort: 8080, public: false, protocol: 'HTTP' }] } as never,
    });
    await call('patch.service.deployment', { parameters: svc('runner'), data: { description: 'patched' } });
    await call('scale.service', { parameters: svc('runner'), data: { instances: 0 } });
    await call('restart.service', { parameters: svc('web') });
    await call('update.service.buildSource', { parameters: svc('builder'), data: { projectUrl: repo.dir, projectType: 'self-hosted' } as never });
    await call('update.service.buildOptions', { parameters: svc('builder'), data: { buildpack: { builder: 'HEROKU_24' }, branchRestrictions: ['main'] } as never });
    const started = await call('start.service.build', { parameters: svc('builder'), data: { branch: 'main' } });
    await call('abort.service.build', { parameters: { ...svc('builder'), buildId: started.id } }).catch(() => undefined); // it may have concluded (a cached build)
    const job = { projectId: project, jobId: 'tick' };
    await call('put.job.cron', { parameters: { projectId: project }, data: { name: 'tick', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'web' } }, command: 'echo tick', schedule: '0 0 1 1 *' } as never });
    await call('patch.job.cron', { parameters: job, data: { schedule: '0 0 2 1 *' } as never });
    await call('patch.job.manual', { parameters: { projectId: project, jobId: 'task' }, data: { backoffLimit: 1 } as never });
    await call('update.job.settings', { parameters: job, data: { backoffLimit: 0 } as never });
    await call('update.job.deployment', { parameters: job, data: { internal: { id: 'web' } } as never });
    await call('suspend.job', { parameters: job, data: { suspended: true } });
    await call('create.job', { parameters: { projectId: project }, data: { name: 'neutral', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'web' } }, command: 'echo hi' } as never });
    await call('put.job', { parameters: { projectId: project }, data: { name: 'neutral', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'web' } }, command: 'echo hi again' } as never });
    const run = await call('start.job.run', { parameters: { projectId: project, jobId: 'neutral' } });
    await call('abort.job.run', { parameters: { projectId: project, jobId: 'neutral', runId: run.id } }).catch(() => undefined); // it may have concluded
    await call('delete.job', { parameters: { projectId: project, jobId: 'neutral' } });
    await call('create.service.deployment', { parameters: { projectId: project }, data: { name: 'gone', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0 } } as never });
    await call('delete.service', { parameters: svc('gone') });
    const cred = await call('add.registryCredentials', { data: { name: 'gone registry', provider: 'custom', registryUrl: 'http://127.0.0.1:5001', credentials: { username: 'u', password: 'p', scope: { pull: true } } } as never });
    await call('delete.registryCredentials', { parameters: { credentialId: cred.id } });
    // Tags, secret groups and volumes.
    await call('put.tag', { data: { name: 'shapes-live', description: 'live traffic, put', color: '#00bb00' } });
    await call('patch.tag', { parameters: { resourceTagId: ids.tag }, data: { description: 'patched' } });
    const tag = await call('add.tag', { data: { name: 'shapes-gone' } });
    await call('delete.tag', { parameters: { resourceTagId: tag.id } });
    const secret = { projectId: project, secretId: ids.secret };
    // A pipeline stage is stored and returned (slipway has no pipelines yet: it changes nothing).
    assert.equal((await call('patch.secret', { parameters: secret, data: { description: 'patched', stageId: 'development' } })).stageId, 'development');
    await call('update.secret', { parameters: secret, data: { secrets: { variables: { LEVEL: 'debug', A: 'from the group' } } } as never });
    await call('put.secret', { parameters: { projectId: project }, data: { name: 'shapes spare', secretType: 'arguments', priority: 1, stageId: 'development', secrets: { variables: { X: '1' } } } });
    await call('delete.secret', { parameters: { projectId: project, secretId: 'shapes-spare' } });
    const spare = await call('create.volume', { parameters: { projectId: project }, data: { name: 'spare', mounts: [{ containerMountPath: '/spare' }], spec: { accessMode: 'ReadWriteOnce', storageSize: 512 } } });
    await call('update.volume', { parameters: { projectId: project, volumeId: spare.id }, data: { spec: { storageSize: 1024 } } as never });
    await call('delete.volume', { parameters: { projectId: project, volumeId: spare.id } });
    // Addons: updates, actions (each waited out before the next), backups, schedules, an import, the delete.
    const cache = { name: 'cache', type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } };
    // A pipeline stage and metadata are stored and returned (no pipelines here; labels apply to no Kubernetes object).
    assert.equal((await call('patch.addon', { parameters: addon, data: { description: 'patched', stageId: 'development' } })).stageId, 'development');
    const put = await call('put.addon', { parameters: { projectId: project }, data: { ...cache, description: 'put', billing: { ...cache.billing, zonalRedundancy: { type: 'disabled' } }, metadata: { labels: { team: 'shapes' } } } });
    assert.deepEqual([put.stageId, put.metadata], ['development', { labels: { team: 'shapes' } }]);
    assert.equal((await call('patch.addon', { parameters: addon, data: { stageId: null } as never })).stageId, undefined, 'a null stage clears it');
    await call('scale.addon', { parameters: addon, data: { deploymentPlan: 'nf-compute-20' } });
    await call('update.addon.version', { parameters: addon, data: { version: (await client.get.addon.version({ parameters: addon })).data.version } });
    await call('retain.addon.backup', { parameters: { ...addon, backupId: ids.addonBackup } });
    await call('delete.addon.backupSchedule', { parameters: { ...addon, scheduleId: ids.schedule } });
    const second = await call('backup.addon', { parameters: addon, data: { name: 'second' } });
    await addonBackupDone(second.id);
    await call('delete.backup', { parameters: { ...addon, backupId: second.id } });
    await call('pause.addon', { parameters: addon });
    await waitForAddonStatus(client, project, addon.addonId, 'paused');
    await call('resume.addon', { parameters: addon });
    await waitForAddonStatus(client, project, addon.addonId, 'running');
    await call('restart.addon', { parameters: addon });
    await waitForAddonStatus(client, project, addon.addonId, 'running');
    // An import from a live Redis (the addon itself, the one reachable here): a dump of it, restored into it.
    const { redisMasterUrl } = (await client.get.addon.credentials({ parameters: addon })).data.secrets;
    const imported = await call('import.addon.backup', { parameters: addon, data: { name: 'imported', connectionString: redisMasterUrl } });
    await addonRestoreDone(imported.restoreId);
    // An uploaded dump (NOT_IN_CLIENT: the client has no call that sends a file): the first backup's RDB, sent back.
    const rdb = Buffer.from(await (await fetch(`${p.apiUrl}/v1/projects/${project}/addons/${addon.addonId}/backups/${ids.addonBackup}/download`, { headers: { authorization: `Bearer ${p.token}` } })).arrayBuffer());
    const uploaded = await api(p, 'POST', `/v1/projects/${project}/addons/${addon.addonId}/import/upload?name=uploaded`, undefined, { raw: rdb, contentType: 'application/octet-stream' });
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    assert.deepEqual(Object.keys(uploaded.body.data).sort(), ['backupId', 'restoreId'], 'the same answer as import.addon.backup');
    await addonRestoreDone(uploaded.body.data.restoreId);
    assert.equal((await call('get.addon.backup', { parameters: { ...addon, backupId: uploaded.body.data.backupId } })).config.source?.type, 'fileUpload');
    await call('delete.addon', { parameters: addon });
    await call('delete.addon', { parameters: ledger });
  });

  it("accepts every field the client's request types allow on each /v1 write, but those refused by name with a reason", async () => {
    const doc = (await api(p, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>> };
    const gaps: string[] = [];
    let checked = 0;
    for (const [route, ops] of Object.entries(doc.paths)) {
      if (!route.startsWith('/v1')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const ep = endpoints.find((e) => e.method === method.toUpperCase() && norm(e.route) === norm(route));
        const data = ep && clientDeclarations().dataOf(ep.name);
        if (!data) continue;
        const schema = op.requestBody?.content?.['application/json']?.schema;
        assert.ok(schema, `${method.toUpperCase()} ${route} takes the client's ${ep!.name.replace(/Endpoint$/, 'Data')}: it needs a body schema`);
        checked++;
        const refused = (path: string) => REFUSED_REQUEST_FIELDS.some((r) => r.routes.test(route) && r.paths.includes(path));
        for (const g of requestGaps(data, schema)) if (!refused(g.path)) gaps.push(`${method.toUpperCase()} ${route}: ${g.path} ${g.rule}`);
      }
    }
    assert.ok(checked > 20, `request bodies compared: ${checked}`);
    assert.deepEqual(gaps, []);
  });

  it('finds no response missing a required property or carrying a wrong type or enum value', () => {
    assert.deepEqual(problems, []);
  });

  it('reports servicePaused as the service is: true while paused, false once resumed', async () => {
    await call('pause.service', { parameters: svc('runner') });
    assert.equal((await call('get.service', { parameters: svc('runner') })).servicePaused, true);
    await call('resume.service', { parameters: svc('runner') });
    assert.equal((await call('get.service', { parameters: svc('runner') })).servicePaused, false);
    assert.equal((await call('get.service', { parameters: svc('web') })).buildSource, 'git');
  });
});
