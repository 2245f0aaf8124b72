/**
 * The pieces of a Northflank service body, field for field from seed 000 (every min/max, pattern, enum and
 * oneOf), plus the few optional fields the official client's types add. Objects list their properties
 * and refuse unknown ones; free-form maps (environment, files, labels) are maps.
 */
import { Type, type TObject, type TProperties } from '@sinclair/typebox';
import { P } from './patterns.ts';
import { Enum } from './enum.ts';

const Obj = <T extends TProperties>(props: T, description?: string): TObject<T> => Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
const Opt = Type.Optional;

/** The pipeline stage a resource is created in (Northflank pipelines): stored; slipway has no pipelines yet. */
export const StageId = Type.String({ minLength: 1, maxLength: 100, description: 'The pipeline stage (stored, no effect: slipway has no pipelines yet).' });
export const Description = Type.String({ maxLength: 200, pattern: P.description, description: 'A description of the service.' });
export const Tags = Type.Array(Type.String({ minLength: 3, maxLength: 100, pattern: P.tag }), { description: 'An array of previously defined tags.' });

const GpuConfiguration = Obj({ gpuType: Opt(Type.String()), gpuCount: Opt(Type.Integer()), timesliced: Opt(Type.Boolean()) });
const GpuConfigurationTypeRequired = Obj({ gpuType: Type.String(), gpuCount: Opt(Type.Integer()), timesliced: Opt(Type.Boolean()) });

export const Billing = Obj({
  deploymentPlan: Opt(Type.String({ minLength: 3, maxLength: 100, pattern: P.plan, description: 'The ID of the deployment plan to use.' })),
  buildPlan: Opt(Type.String({ minLength: 3, maxLength: 100, pattern: P.plan })),
  gpu: Opt(Obj({ enabled: Opt(Type.Boolean()), configuration: Opt(GpuConfiguration) })),
});
export const BillingRequired = Obj({
  deploymentPlan: Type.String({ minLength: 3, maxLength: 100, pattern: P.plan, description: 'The ID of the deployment plan to use.' }),
  buildPlan: Opt(Type.String({ minLength: 3, maxLength: 100, pattern: P.plan })),
  gpu: Opt(Obj({ enabled: Opt(Type.Boolean()), configuration: Opt(GpuConfiguration) })),
});

const BuildpackRuntime = Obj(
  {
    configType: Enum(['default', 'customProcess', 'customCommand', 'customEntrypointCustomCommand', 'originalEntrypointCustomCommand']),
    customProcess: Opt(Type.String()),
    customEntrypoint: Opt(Type.String()),
    customCommand: Opt(Type.String()),
  },
  'Allows for customization of buildpack runtime',
);
const DockerRuntime = Obj(
  {
    configType: Enum(['default', 'customEntrypoint', 'customCommand', 'customEntrypointCustomCommand']),
    customEntrypoint: Opt(Type.String()),
    customCommand: Opt(Type.String()),
  },
  'Allows for customization of docker runtime',
);
const Storage = Obj({
  ephemeralStorage: Opt(Obj({ storageSize: Opt(Type.Integer({ minimum: 1024, description: 'Ephemeral storage per container in MB' })) })),
  shmSize: Opt(Type.Integer({ minimum: 64 })),
  useHdbStorage: Opt(Type.Boolean()),
  usePdSsdStorage: Opt(Type.Boolean()),
});
const Strategy = Obj({ type: Opt(Enum(['recreate', 'rollout-steady', 'rollout-balanced', 'rollout-fast'])) });
const ZonalRedundancy = Obj({ type: Opt(Enum(['disabled', 'preferred', 'required'])), minZones: Opt(Type.Integer({ minimum: 1 })) });
const Metadata = Obj({ labels: Opt(Type.Record(Type.String(), Type.Unknown())), annotations: Opt(Type.Record(Type.String(), Type.Unknown())) });

/** Fields every deployment branch shares. */
const deploymentCommon = {
  type: Opt(Enum(['deployment', 'statefulSet'])),
  instances: Type.Integer({ minimum: 0, maximum: 100, description: 'The number of instances to run the service on (this installation runs at most 100 per service).' }),
  buildpack: Opt(BuildpackRuntime),
  docker: Opt(DockerRuntime),
  storage: Opt(Storage),
  strategy: Opt(Strategy),
  zonalRedundancy: Opt(ZonalRedundancy),
  gpu: Opt(Obj({ enabled: Opt(Type.Boolean()), configuration: Opt(GpuConfigurationTypeRequired) })),
  gracePeriodSeconds: Opt(Type.Integer({ minimum: 15, maximum: 600 })),
  metadata: Opt(Metadata),
};

export const BuildSha = Type.Union([Type.String({ minLength: 40, maxLength: 40, description: 'A commit sha.' }), Type.Literal('latest')]);
export const Internal = Obj({
  id: Opt(Type.String({ minLength: 3, maxLength: 54, pattern: P.resourceId, description: 'ID of the build service to deploy' })),
  branch: Opt(Type.String({ maxLength: 256 })),
  buildSHA: Opt(BuildSha),
  buildId: Opt(Type.String({ maxLength: 100 })),
});
export const External = Obj({
  imagePath: Type.String({ pattern: P.imagePath, maxLength: 512 }),
  credentials: Opt(Type.String({ pattern: P.credentialsId, maxLength: 100 })),
});

/**
 * The seed's deployment oneOf: Internal, External, or "Choose later". The branches are made mutually
 * exclusive (`not` the other's discriminating property) so a body matches exactly one.
 */
export const Deployment = Type.Union(
  [
    Type.Object({ ...deploymentCommon, internal: Internal }, { additionalProperties: false, title: 'Internal deployment', not: Type.Object({ external: Type.Unknown() }, { required: ['external'] }) }),
    Type.Object({ ...deploymentCommon, external: External }, { additionalProperties: false, title: 'External deployment', not: Type.Object({ internal: Type.Unknown() }, { required: ['internal'] }) }),
    Type.Object(deploymentCommon, { additionalProperties: false, title: 'Choose later' }),
  ],
  { description: 'Deployment type' },
);

/** A PATCH may send part of `deployment` (e.g. only `instances`): same fields, none required. */
export const DeploymentPatch = Type.Object(
  { ...Type.Partial(Type.Object(deploymentCommon)).properties, internal: Opt(Internal), external: Opt(External) },
  { additionalProperties: false, not: Type.Object({ internal: Type.Unknown(), external: Type.Unknown() }, { required: ['internal', 'external'] }) },
);

const Credential = Obj({
  username: Type.String({ minLength: 3, maxLength: 39, pattern: P.username }),
  password: Type.String({ minLength: 1, maxLength: 256 }),
  type: Type.Literal('basic-auth'),
});
const IpRule = Obj({ addresses: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 }), action: Enum(['ALLOW', 'DENY']) });
const Sso = Obj({
  organizationId: Opt(Type.String()),
  directoryGroupIds: Opt(Type.Array(Type.String())),
  allowAnyOrgUsers: Opt(Type.Boolean()),
  validateInternalTraffic: Opt(Type.Boolean()),
  setCookieOnRootDomain: Opt(Type.Boolean()),
  allowInternalTrafficViaPublicDns: Opt(Type.Boolean()),
});
// The seed marks header `name`/`value` required, but its own example request sends `{"regexMode": false}`
// alone, and seed examples must validate as written: so both are optional here. A header rule without a
// name matches nothing.
const HeaderRule = Type.Union([
  Obj({ regexMode: Opt(Type.Boolean()), name: Opt(Type.String({ pattern: P.headerName, maxLength: 256 })), value: Opt(Type.String({ maxLength: 1024 })) }, 'Matches provided headers as strings.'),
  Obj({ regexMode: Opt(Type.Boolean()), name: Opt(Type.String({ maxLength: 256 })), value: Opt(Type.String({ maxLength: 1024 })) }, 'Matches provided headers as regex.'),
]);
const policies = {
  credentials: Opt(Type.Array(Credential, { maxItems: 100 })),
  ip: Opt(Type.Array(IpRule, { maxItems: 256 })),
  policies: Opt(Type.Array(IpRule, { maxItems: 256 })),
  sso: Opt(Sso),
  headers: Opt(Type.Array(HeaderRule, { maxItems: 100 })),
};
// Likewise the example's path rule is `{"routingMode": "prefix"}` alone: `path` and `priority` optional.
const PathRule = Type.Union([
  Obj({ path: Opt(Type.String({ pattern: P.securePath, maxLength: 1024 })), routingMode: Type.Literal('prefix'), priority: Opt(Type.Integer({ minimum: 0, maximum: 100 })) }, 'Route when the path starts with the provided prefix.'),
  Obj({ path: Opt(Type.String({ pattern: P.securePath, maxLength: 1024 })), routingMode: Type.Literal('exact'), priority: Opt(Type.Integer({ minimum: 0, maximum: 100 })) }, 'Route when the path is an exact match.'),
  Obj({ path: Opt(Type.String({ maxLength: 1024 })), routingMode: Type.Literal('regex'), priority: Opt(Type.Integer({ minimum: 0, maximum: 100 })) }, 'Route when the path matches the provided regex.'),
]);
const Security = Obj({
  ...policies,
  verificationMode: Opt(Enum(['or', 'and'])),
  securePathConfiguration: Opt(
    Obj({
      enabled: Opt(Type.Boolean()),
      skipSecurityPoliciesForInternalTrafficViaPublicDns: Opt(Type.Boolean()),
      rules: Opt(
        Type.Array(
          Obj({
            paths: Type.Array(PathRule, { maxItems: 100 }),
            accessMode: Opt(Enum(['protected', 'unprotected'])),
            securityPolicies: Opt(Obj({ orPolicies: Opt(Obj(policies)), requiredPolicies: Opt(Obj(policies)) })),
          }),
          { maxItems: 100 },
        ),
      ),
    }),
  ),
});
// `accessMode` is required by the seed but absent from its own example rule, so it is optional (default protected).

export const Port = Obj({
  name: Type.String({ minLength: 1, maxLength: 8, pattern: P.portName, description: 'The name used to identify the port.' }),
  internalPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  public: Opt(Type.Boolean()),
  security: Opt(Security),
  domains: Opt(Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-zA-Z0-9*]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)+$' }), { maxItems: 100 })),
  disableNfDomain: Opt(Type.Boolean()),
  advancedOptions: Opt(Obj({ enableTlsPassthrough: Opt(Type.Boolean()) })),
  protocol: Enum(['HTTP', 'HTTP/2', 'TCP', 'UDP']),
});
export const Ports = Type.Array(Port, { maxItems: 50 });
/** Northflank's update-ports body: the new list; an entry's `id` names the existing port it keeps security from. */
export const UpdateServicePorts = Obj({
  ports: Type.Array(Obj({ id: Opt(Type.String({ minLength: 1, maxLength: 8, pattern: P.portName, description: 'The id of an existing port, whose security configuration is kept when this entry gives none.' })), ...Port.properties }), { maxItems: 50 }),
});

export const RuntimeEnvironment = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 256 * 1024 }), { description: 'An object containing the runtime environment to set for the service' });
export const RuntimeFiles = Type.Record(
  Type.String({ maxLength: 1024 }),
  Type.Object({ data: Type.String({ maxLength: 1024 * 1024 }), encoding: Opt(Type.String({ maxLength: 32 })) }, { additionalProperties: false }),
  { description: 'Secret files as JSON object, encrypted at rest. File path must be absolute' },
);

export const HealthCheck = Obj({
  protocol: Enum(['HTTP', 'CMD', 'TCP']),
  type: Enum(['livenessProbe', 'readinessProbe', 'startupProbe']),
  path: Opt(Type.String({ pattern: P.healthPath, maxLength: 1024 })),
  cmd: Opt(Type.String({ maxLength: 4096 })),
  port: Opt(Type.Integer({ minimum: 1, maximum: 65535 })),
  initialDelaySeconds: Type.Integer({ minimum: 1, maximum: 180 }),
  periodSeconds: Type.Integer({ minimum: 10, maximum: 600 }),
  timeoutSeconds: Type.Integer({ minimum: 1, maximum: 60 }),
  failureThreshold: Type.Integer({ minimum: 1, maximum: 255 }),
  successThreshold: Opt(Type.Integer({ minimum: 1, maximum: 255 })),
});
export const HealthChecks = Type.Array(HealthCheck, { maxItems: 10 });

export const LoadBalancing = Obj({
  mode: Opt(Enum(['leastConnection', 'consistentHash', 'roundRobin', 'consistentReplicaRouting'])),
  consistentHash: Opt(Obj({ mode: Enum(['ip', 'customHeader']), header: Opt(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])) })),
  consistentReplicaRouting: Opt(Obj({ mode: Enum(['path', 'header']) })),
});

export const Autoscaling = Obj({
  horizontal: Opt(
    Obj({
      enabled: Opt(Type.Boolean()),
      minReplicas: Opt(Type.Number({ minimum: 1 })),
      maxReplicas: Opt(Type.Number()),
      cpu: Opt(Obj({ enabled: Opt(Type.Boolean()), thresholdPercentage: Opt(Type.Integer({ minimum: 10, maximum: 100 })) })),
      memory: Opt(Obj({ enabled: Opt(Type.Boolean()), thresholdPercentage: Opt(Type.Integer({ minimum: 10, maximum: 100 })) })),
      rps: Opt(Obj({ enabled: Opt(Type.Boolean()), thresholdValue: Opt(Type.Integer({ minimum: 1 })) })),
      userMetrics: Opt(
        Obj({
          enabled: Opt(Type.Boolean()),
          exposedMetricsPath: Opt(Type.String({ pattern: P.metricsPath })),
          exposedMetricsPort: Opt(Type.Integer({ minimum: 1, maximum: 65535 })),
          metrics: Opt(Type.Array(Obj({ metricName: Type.String({ pattern: P.metricName }), metricType: Enum(['gauge', 'counter']), thresholdValue: Type.Number() }))),
        }),
      ),
    }),
  ),
});

export const Infrastructure = Obj({ architecture: Opt(Enum(['x86', 'arm'])) });

/** Source and build fields of build and combined services (Northflank's client types). */
const vcsFields = {
  projectUrl: Type.String({ minLength: 1, maxLength: 2048 }),
  projectType: Enum(['bitbucket', 'gitlab', 'github', 'self-hosted', 'azure']),
  selfHostedVcsId: Opt(Type.String()),
  accountLogin: Opt(Type.String()),
  vcsLinkId: Opt(Type.String()),
};
const ProjectBranch = Type.String({ minLength: 1, maxLength: 256 });
/** The repository of a combined service: one branch is built and deployed. */
export const VcsData = Obj({ ...vcsFields, projectBranch: ProjectBranch });
/** The repository of a build service: no branch of its own (it builds the branches its rules name, or the one asked for). */
export const BuildVcsData = Obj({ ...vcsFields, projectBranch: Opt(ProjectBranch) });
/** An uploaded source: `bundleUrl` names a .tar.gz on this machine (absolute path or file:// URL). */
export const BundleData = Obj({
  bundleUrl: Type.String({ minLength: 1, maxLength: 2048, description: 'An absolute path or file:// URL of a .tar.gz source bundle on this machine.' }),
  branch: Opt(Type.String({ minLength: 1, maxLength: 256, description: 'Branch identifier for the bundle.' })),
});
const BuildStorage = Obj({ ephemeralStorage: Opt(Obj({ storageSize: Opt(Type.Integer({ minimum: 1024 })) })) });
export const BuildSettings = Type.Union([
  Obj({
    storage: Opt(BuildStorage),
    dockerfile: Obj({
      useCache: Opt(Type.Boolean()),
      buildEngine: Opt(Enum(['buildkit', 'kaniko'])),
      dockerFilePath: Type.String({ maxLength: 1024 }),
      dockerWorkDir: Type.String({ maxLength: 1024 }),
      buildkit: Opt(Type.Record(Type.String(), Type.Unknown())),
    }),
  }),
  Obj({
    storage: Opt(BuildStorage),
    buildpack: Obj({
      builder: Opt(Type.String({ maxLength: 100 })),
      buildpackLocators: Opt(Type.Array(Type.String({ maxLength: 512 }))),
      buildContext: Opt(Type.String({ maxLength: 1024 })),
      useCache: Opt(Type.Boolean()),
    }),
  }),
]);
const BuildRules = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100 });
export const BuildConfiguration = Obj({
  prRestrictions: Opt(BuildRules),
  branchRestrictions: Opt(BuildRules),
  crossProjectAccess: Opt(Obj({ enabled: Type.Boolean(), projects: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 1000 }), isAllowList: Type.Boolean() })),
  pathIgnoreRules: Opt(Type.Array(Type.String())),
  isAllowList: Opt(Type.Boolean()),
  ciIgnoreFlagsEnabled: Opt(Type.Boolean()),
  ciIgnoreFlags: Opt(Type.Array(Type.String())),
  dockerfileTarget: Opt(Type.String()),
  dockerCredentials: Opt(Type.Array(Type.String())),
  includeGitFolder: Opt(Type.Boolean()),
  fullGitClone: Opt(Type.Boolean()),
  enableGitLfs: Opt(Type.Boolean()),
  storage: Opt(BuildStorage),
});
export const BuildArguments = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 64 * 1024 }));
