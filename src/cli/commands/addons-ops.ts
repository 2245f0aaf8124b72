/**
 * `slipway addons rotate|import`: a zero-downtime credential rotation (slipway's native route) and an import
 * into an addon from a dump file (uploaded), a dump's URL or a live database (`/v1` import). Both wait for the outcome unless
 * `--no-wait`. Registered on the `addons` command by addons.ts.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { requireProject, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';
import { addonPath, until } from './addon-paths.ts';

export function registerAddonOps(addons: Command): void {
  const withProject = (c: Command) => c.option('-p, --project <project>', 'project id');

  withProject(addons.command('external <addon> <on|off>').description('turn external access on or off: a router TCP port forwards to the addon (no restart)')).action(async (addon: string, state: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    if (state !== 'on' && state !== 'off') throw new UsageError(`external access is 'on' or 'off', not '${state}'`);
    const body = await s.client.json('PATCH', addonPath(project, addon), { body: { externalAccessEnabled: state === 'on' } });
    if (s.json) return s.out.json(body);
    if (state === 'off') return s.out.line(`${addon}: external access off`);
    // The router port is assigned once the route is in the table: read it from the credentials.
    const creds = await until(() => s.client.get(`${addonPath(project, addon)}/credentials`), (c) => !!c.data?.secrets?.externalPort, 30_000);
    const sec = creds.data?.secrets ?? {};
    s.out.line(sec.externalPort ? `${addon}: external access on at ${sec.externalHost}:${sec.externalPort}` : `${addon}: external access on (no router port yet: see 'addons credentials')`);
  });

  withProject(addons.command('rotate <addon>').description('rotate the credentials with zero downtime: linked services roll out, then the old login is retired'))
    .option('--no-wait', 'return once asked')
    .action(async (addon: string, opts: { project?: string; wait: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const native = `/projects/${encodeURIComponent(project)}/addons/${encodeURIComponent(addon)}/credentials`;
      const asked = await s.client.json('POST', `${native}/rotate`, { body: {} });
      if (!opts.wait) return s.json ? s.out.json(asked) : s.out.line(`Addon '${addon}': rotation requested.`);
      s.out.note('Rotating: the old login keeps working until every instance given it has been replaced…');
      const state = await until(async () => (await s.client.get(`${native}/rotation`)).state as string, (x) => x === 'idle', 3_600_000);
      if (s.json) return s.out.json({ state });
      if (state !== 'idle') {
        process.exitCode = 1;
        return s.out.line(`Addon '${addon}': the rotation is still ${state}.`);
      }
      s.out.line(`Addon '${addon}': credentials rotated, the old login retired. New values: slipway addons credentials ${addon} -p ${project}`);
    });

  withProject(addons.command('import <addon>').description("import data into the addon (replacing its data): a dump file, a dump's http(s) URL, or a live database"))
    .option('--file <path>', 'a dump file of the addon type to upload (gzipped or not): pg_dump -Fc, a mysqldump, a Redis RDB')
    .option('--url <url>', 'an http(s) URL of a dump of the addon type (gzipped or not)')
    .option('--connection-string <uri>', 'a live database to dump, e.g. postgresql://user:password@host:5432/db')
    .option('--name <name>', 'name of the backup the import makes')
    .option('--no-wait', 'return once scheduled')
    .action(async (addon: string, opts: { project?: string; file?: string; url?: string; connectionString?: string; name?: string; wait: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      if ([opts.file, opts.url, opts.connectionString].filter(Boolean).length !== 1) throw new UsageError('give one of --file, --url or --connection-string');
      let made: { data: unknown };
      if (opts.file) {
        let size: number;
        try {
          size = fs.statSync(opts.file).size;
        } catch (err) {
          throw new UsageError(`cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        if (!s.json) s.out.note(`Uploading ${opts.file} (${size} bytes)…`);
        // Streamed from disk (a Blob backed by the file), not read into memory.
        made = await s.client.json('POST', `${addonPath(project, addon)}/import/upload`, { raw: await fs.openAsBlob(opts.file), contentType: 'application/octet-stream', query: { name: opts.name } });
      } else {
        const body = { ...(opts.url ? { importUrl: opts.url } : { connectionString: opts.connectionString }), ...(opts.name ? { name: opts.name } : {}) };
        made = await s.client.json('POST', `${addonPath(project, addon)}/import`, { body });
      }
      const { backupId, restoreId } = made.data as { backupId: string; restoreId: string };
      if (!opts.wait) return s.json ? s.out.json(made) : s.out.line(`Import scheduled: backup '${backupId}', restore '${restoreId}'.`);
      const backup = await until(async () => (await s.client.get(`${addonPath(project, addon)}/backups/${encodeURIComponent(backupId)}`)).data, (b) => ['completed', 'failed', 'aborted'].includes(b.status), 3_600_000);
      const restore = await until(
        async () => ((await s.client.get(`${addonPath(project, addon)}/restores`, { per_page: 100 })).data.restores as { id: string; status: string; message?: string }[]).find((r) => r.id === restoreId),
        (r) => !!r && ['completed', 'failed', 'aborted'].includes(r.status),
        backup.status === 'completed' ? 3_600_000 : 30_000,
      );
      if (s.json) return s.out.json({ data: { backup, restore } });
      if (backup.status !== 'completed') {
        process.exitCode = 1;
        return s.out.line(`Import failed: ${backup.message ?? backup.status}.`);
      }
      if (restore?.status !== 'completed') process.exitCode = 1;
      s.out.line(`Import ${restore?.status === 'completed' ? 'completed' : `restore ${restore?.status ?? 'unknown'}${restore?.message ? `: ${restore.message}` : ''}`} (backup '${backupId}', ${backup.config.size} bytes).`);
    });
}
