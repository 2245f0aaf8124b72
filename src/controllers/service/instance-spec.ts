/**
 * What the runtime is asked to run for one instance of a release: its command, environment, files, ports,
 * plan and volumes, labelled with the project, service, release and process type it belongs to.
 */
import type { InstanceSpec } from '../../runtime/driver.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import type { ReleaseRecord } from '../../domain/release.ts';
import type { Plan } from '../../domain/plans.ts';

/** Only `web` takes traffic: it alone gets the ports (and PORT); other types run without any. */
export function instanceSpec(a: { id: string; svc: ServiceRecord; release: ReleaseRecord; type: string; command: string[]; plan: Plan | undefined; volumes?: InstanceSpec['volumes'] }): InstanceSpec {
  const { id, svc, release, type, command, plan, volumes } = a;
  const web = type === 'web';
  return {
    id,
    labels: { project: svc.projectId, service: svc.id, release: release.id, processType: type },
    artifactDir: release.spec.artifactDir,
    image: release.spec.image,
    command,
    ...(release.spec.image && !command.length ? { entrypoint: release.spec.entrypoint, cmd: release.spec.cmd } : {}),
    env: {
      ...release.spec.env,
      SLIPWAY_SERVICE: svc.id,
      SLIPWAY_PROJECT: svc.projectId,
      SLIPWAY_INSTANCE: id,
      SLIPWAY_RELEASE: String(release.number),
    },
    files: Object.entries(release.spec.files).map(([path, f]) => ({ path, content: Buffer.from(f.data, 'base64') })),
    ports: web ? release.spec.ports.map((p) => ({ name: p.name, internalPort: p.internalPort })) : [],
    memoryMb: plan?.memoryMb,
    cpu: plan?.cpu,
    shmSizeMb: release.spec.storage?.shmSizeMb,
    ephemeralStorageMb: release.spec.storage?.ephemeralStorageMb,
    ...(volumes?.length ? { volumes } : {}),
    // Health checks name the web ports; a runtime that runs them itself takes them from here (driver.ts).
    ...(web ? { healthChecks: release.spec.healthChecks } : {}),
  };
}
