/**
 * Request schemas of the `/v1` face. Create/put bodies add `name` (and the parts Northflank requires) to
 * the seed's PATCH body; PATCH bodies are the seed's request body exactly.
 */
import { Type, type TProperties, type TSchema } from '@sinclair/typebox';
import { P } from './patterns.ts';
import { Enum } from './enum.ts';
import * as X from './service-parts.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const ServiceName = Type.String({ minLength: 3, maxLength: 54, pattern: P.serviceName, description: 'The name of the service.' });

const commonPatch = {
  stageId: Opt(X.StageId),
  description: Opt(X.Description),
  tags: Opt(X.Tags),
  billing: Opt(X.Billing),
  infrastructure: Opt(X.Infrastructure),
  ports: Opt(X.Ports),
  runtimeEnvironment: Opt(X.RuntimeEnvironment),
  runtimeFiles: Opt(X.RuntimeFiles),
  healthChecks: Opt(X.HealthChecks),
  loadBalancing: Opt(X.LoadBalancing),
  autoscaling: Opt(X.Autoscaling),
};
const buildFields = {
  disabledCI: Opt(Type.Boolean()),
  buildSource: Opt(Enum(['git', 'bundle'])),
  vcsData: Opt(X.VcsData),
  bundleData: Opt(X.BundleData),
  buildSettings: Opt(X.BuildSettings),
  buildConfiguration: Opt(X.BuildConfiguration),
  buildArguments: Opt(X.BuildArguments),
};

export const PatchDeploymentService = strict({ ...commonPatch, deployment: Opt(X.Deployment) });
export const CreateDeploymentService = strict({ name: ServiceName, ...commonPatch, billing: X.BillingRequired, deployment: X.Deployment });

export const PatchCombinedService = strict({ ...commonPatch, ...buildFields, deployment: Opt(X.DeploymentPatch) });
// The source is `vcsData` (git) or, with `buildSource: 'bundle'`, an uploaded bundle: the route checks one is given.
export const CreateCombinedService = strict({ name: ServiceName, ...commonPatch, ...buildFields, billing: X.BillingRequired, deployment: X.DeploymentPatch });

const buildServiceFields = { ...buildFields, vcsData: Opt(X.BuildVcsData) };
export const PatchBuildService = strict({ stageId: Opt(X.StageId), description: Opt(X.Description), tags: Opt(X.Tags), billing: Opt(X.Billing), infrastructure: Opt(X.Infrastructure), ...buildServiceFields });
export const CreateBuildService = strict({ name: ServiceName, stageId: Opt(X.StageId), description: Opt(X.Description), tags: Opt(X.Tags), billing: Opt(X.Billing), infrastructure: Opt(X.Infrastructure), ...buildServiceFields });

const ProjectName = Type.String({ minLength: 3, maxLength: 39, pattern: P.serviceName, description: 'The name of the project.' });
const projectFields = {
  description: Opt(Type.String({ maxLength: 200, pattern: P.description })),
  color: Opt(Type.String({ pattern: '^#[0-9a-fA-F]{6}$' })),
  region: Opt(Type.String({ maxLength: 100 })),
  clusterId: Opt(Type.String({ maxLength: 100 })),
  networking: Opt(Type.Record(Type.String(), Type.Unknown())),
};
export const CreateProject = strict({ name: ProjectName, ...projectFields });
export const PatchProject = strict({ name: Opt(ProjectName), ...projectFields });

export const PaginationQuery = Type.Object({
  per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })),
  page: Opt(Type.Integer({ minimum: 1 })),
  cursor: Opt(Type.String({ maxLength: 512 })),
});

export const ScaleService = Type.Union([
  strict({
    instances: Opt(Type.Integer({ minimum: 0, maximum: 100 })),
    deploymentPlan: Opt(Type.String({ minLength: 3, maxLength: 100, pattern: P.plan })),
    storage: Opt(Type.Record(Type.String(), Type.Unknown())),
  }),
  Type.Null(),
]);
export const ResumeService = ScaleService;
export const StartServiceBuild = Type.Union([
  strict({
    sha: Opt(Type.String({ minLength: 40, maxLength: 40, pattern: '^[0-9a-f]{40}$' })),
    branch: Opt(Type.String({ minLength: 1, maxLength: 256 })),
    bundleUrl: Opt(Type.String({ maxLength: 2048 })),
    pullRequestId: Opt(Type.Integer()),
    overrides: Opt(Type.Record(Type.String(), Type.Unknown())),
  }),
  Type.Null(),
]);
export const UpdateServicePorts = X.UpdateServicePorts;
/** Northflank's update-runtime-environment body: every variable (the object replaces the stored one), and files. */
export const UpdateRuntimeEnvironment = strict({ runtimeEnvironment: X.RuntimeEnvironment, runtimeFiles: Opt(X.RuntimeFiles) });
export const UpdateHealthChecks = strict({ healthChecks: X.HealthChecks });
export const UpdateDeployment = X.DeploymentPatch;
export const ShowEnvironment = Type.Object({ show: Opt(Type.Union([Type.Literal('this'), Type.Literal('inherited'), Type.Literal('all')])) });
/** Northflank's update-build-arguments body (build files and secret mounts are not supported: refused by name). */
export const UpdateBuildArguments = strict({ buildArguments: Opt(X.BuildArguments) });
/** Northflank's update-build-source body: the `vcsData` fields to change. */
export const UpdateBuildSource = Type.Partial(X.VcsData, { additionalProperties: false });
const [dockerfileSettings, buildpackSettings] = X.BuildSettings.anyOf.map((o) => o.properties);
/** Northflank's update-build-options body: the build configuration, and a Dockerfile or buildpack build (one of them). */
export const UpdateBuildOptions = strict({
  ...X.BuildConfiguration.properties,
  dockerfile: Opt((dockerfileSettings as Record<string, TSchema>).dockerfile),
  buildpack: Opt((buildpackSettings as Record<string, TSchema>).buildpack),
});
