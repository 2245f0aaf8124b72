/**
 * `slipway volumes list|show|create|attach|detach|backup|backups|restore|delete`: volumes and their backups
 * through the `/v1` volume routes. Operations that stop the service's instance (attach, detach, backup,
 * restore) return once recorded; `--wait` follows them until the volume is settled.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { ago } from '../output.ts';
import { projectPath, requireProject, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';
import { intArg } from './projects.ts';

interface VolumeView {
  id: string;
  status: string;
  spec: { storageSize: number; accessMode: string };
  mounts: { containerMountPath: string; volumeMountPath?: string }[];
  attachedObjects: { id: string; type: string }[];
  operation: { type: string; backupId?: string } | null;
  usage?: { storageUsedBytes: number | null };
  notices?: string[];
}

interface BackupView {
  id: string;
  name: string;
  status: string;
  sizeBytes: number | null;
  createdAt: string;
}

const volumesPath = (project: string, volume?: string) => `${projectPath(project)}/volumes${volume ? `/${encodeURIComponent(volume)}` : ''}`;

/** Poll until the volume runs no operation (and a backup, when named, has finished). */
async function settle(client: ApiClient, project: string, volume: string, backupId?: string): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const v = (await client.get(volumesPath(project, volume))).data as VolumeView;
    const b = backupId ? ((await client.get(`${volumesPath(project, volume)}/backups/${encodeURIComponent(backupId)}`)).data as BackupView) : undefined;
    if (b?.status === 'failed') throw new Error(`backup ${b.id} failed`);
    if (v.operation === null && v.status === 'BOUND' && (!b || b.status === 'completed')) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`volume '${volume}' did not settle within 10 minutes`);
}

function mb(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(1)} MB`;
}

export function registerVolumes(program: Command): void {
  const volumes = program.command('volumes').alias('volume').description('persistent volumes of services, and their backups');
  const withProject = (c: Command) => c.option('-p, --project <project>', 'project id');

  withProject(volumes.command('list').alias('ls').description('list the volumes of a project')).action(async (opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const body = await s.client.get(volumesPath(project), { per_page: 100 });
    if (s.json) return s.out.json(body);
    s.out.table(
      ['id', 'size', 'used', 'mounts', 'service', 'status'],
      (body.data as VolumeView[]).map((v) => [v.id, `${v.spec.storageSize} MB`, mb(v.usage?.storageUsedBytes), v.mounts.map((m) => m.containerMountPath).join(','), v.attachedObjects[0]?.id ?? '-', v.operation ? `${v.status} (${v.operation.type})` : v.status]),
    );
  });

  withProject(volumes.command('show <volume>').description('show a volume with its backups and notices')).action(async (volume: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const v = (await s.client.get(volumesPath(project, volume))).data as VolumeView;
    const backups = (await s.client.get(`${volumesPath(project, volume)}/backups`, { per_page: 100 })).data as BackupView[];
    if (s.json) return s.out.json({ volume: v, backups });
    s.out.line(`${v.id}: ${v.spec.storageSize} MB (${mb(v.usage?.storageUsedBytes)} used), ${v.spec.accessMode}, ${v.status}${v.operation ? `, ${v.operation.type} running` : ''}`);
    s.out.line(`  mounted at ${v.mounts.map((m) => m.containerMountPath + (m.volumeMountPath ? ` (${m.volumeMountPath})` : '')).join(', ')}${v.attachedObjects[0] ? ` in service ${v.attachedObjects[0].id}` : ' (not attached)'}`);
    for (const n of v.notices ?? []) s.out.line(`  note: ${n}`);
    s.out.table(['backup', 'name', 'status', 'size', 'taken'], backups.map((b) => [b.id, b.name, b.status, mb(b.sizeBytes), ago(b.createdAt)]));
  });

  withProject(volumes.command('create <name>').description('create a volume, empty or from a backup'))
    .requiredOption('--mount <path>', 'where the volume appears inside the instance, e.g. /data')
    .option('--size <mb>', 'storage size in MB', '1024')
    .option('--service <service>', 'attach it to this service (its instance restarts with it)')
    .option('--from-backup <backupId>', 'start with the data of this backup')
    .option('--wait', 'wait until the volume is ready')
    .action(async (name: string, opts: { project?: string; mount: string; size: string; service?: string; fromBackup?: string; wait?: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const body = {
        name,
        mounts: [{ containerMountPath: opts.mount }],
        spec: { accessMode: 'ReadWriteOnce', storageSize: intArg('--size', opts.size, 1, 1_048_576) },
        ...(opts.service ? { attachedObjects: [{ id: opts.service, type: 'service' }] } : {}),
        ...(opts.fromBackup ? { source: { type: 'backup', sourceId: opts.fromBackup } } : {}),
      };
      const res = await s.client.json('POST', volumesPath(project), { body });
      const id = (res.data as VolumeView).id;
      if (opts.wait) await settle(s.client, project, id);
      if (s.json) return s.out.json(res);
      s.out.line(`Created volume '${id}'${opts.service ? ` attached to service '${opts.service}'` : ''}.`);
    });

  const operation = (verb: string, description: string, run: (client: ApiClient, project: string, volume: string, arg: string | undefined) => Promise<{ data: unknown; backupId?: string; said: string }>, argName?: string) => {
    withProject(volumes.command(`${verb} <volume>${argName ? ` <${argName}>` : ''}`).description(description))
      .option('--wait', 'wait until the operation has finished')
      .action(async (volume: string, ...rest: unknown[]) => {
        const cmd = rest.at(-1) as Command;
        const opts = rest.at(-2) as { project?: string; wait?: boolean };
        const arg = argName ? (rest[0] as string) : undefined;
        const s = sessionOf(cmd);
        const project = requireProject(opts);
        const r = await run(s.client, project, volume, arg);
        if (opts.wait) await settle(s.client, project, volume, r.backupId);
        if (s.json) return s.out.json({ data: r.data });
        s.out.line(r.said + (opts.wait ? '' : ' (follow with `slipway volumes show`)'));
      });
  };
  operation('attach', 'attach a volume to a service (its instance stops and starts again with it)', async (c, p, v, service) => {
    const res = await c.json('POST', `${volumesPath(p, v)}/attach`, { body: { nfObject: { id: service, type: 'service' } } });
    return { data: res.data, said: `Attaching volume '${v}' to service '${service}'.` };
  }, 'service');
  operation('detach', 'detach a volume from its service (once its instance has stopped)', async (c, p, v) => {
    const cur = (await c.get(volumesPath(p, v))).data as VolumeView;
    const svc = cur.attachedObjects[0]?.id;
    if (!svc) throw new UsageError(`volume '${v}' is not attached`);
    const res = await c.json('POST', `${volumesPath(p, v)}/detach`, { body: { nfObject: { id: svc, type: 'service' } } });
    return { data: res.data, said: `Detaching volume '${v}' from service '${svc}'.` };
  });
  operation('backup', 'back a volume up (its instance is stopped for a consistent copy, then started)', async (c, p, v, name) => {
    const res = await c.json('POST', `${volumesPath(p, v)}/backups`, { body: { name: name ?? `backup ${new Date().toISOString()}` } });
    const b = res.data as BackupView;
    return { data: b, backupId: b.id, said: `Backup '${b.id}' of volume '${v}' started.` };
  }, 'name');
  operation('restore', 'restore a backup into its volume (the instance stops, the data is replaced, it starts)', async (c, p, v, backupId) => {
    const res = await c.json('POST', `${volumesPath(p, v)}/backups/${encodeURIComponent(backupId!)}/restore`, { body: {} });
    return { data: res.data, said: `Restoring backup '${backupId}' into volume '${v}'.` };
  }, 'backupId');

  withProject(volumes.command('delete <volume>').description('delete a detached volume with its data and backups')).action(async (volume: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const res = await s.client.json('DELETE', volumesPath(project, volume));
    if (s.json) return s.out.json(res);
    s.out.line(`Deleted volume '${volume}'.`);
  });
}
