/**
 * `slipway backup-destinations list|create|show|backups|delete`: S3-compatible buckets addon backups are
 * written to (`/v1/backup-destinations`). The secret key is read from an environment variable (never the
 * command line, which other users can read in /proc) and never printed.
 */
import type { Command } from 'commander';
import { UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';

interface DestinationView {
  id: string;
  name: string;
  description?: string;
  prefix: string;
  credentials: { accessKey: string; bucketName: string; region: string; endpoint: string };
  createdAt?: string;
}

const destPath = (id?: string) => `/v1/backup-destinations${id ? `/${encodeURIComponent(id)}` : ''}`;

export function registerBackupDestinations(program: Command): void {
  const dests = program.command('backup-destinations').alias('backup-destination').description('S3-compatible buckets addon backups can be written to (admin token)');

  dests
    .command('list')
    .alias('ls')
    .description('list the backup destinations (no secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get(destPath(), { per_page: 100 });
      if (s.json) return s.out.json(body);
      s.out.table(['id', 'bucket', 'prefix', 'endpoint', 'region'], (body.data.backupDestinations as DestinationView[]).map((d) => [d.id, d.credentials.bucketName, d.prefix, d.credentials.endpoint, d.credentials.region]));
    });

  dests
    .command('create <name>')
    .description('add an S3 bucket as a backup destination (the credentials are checked against it)')
    .requiredOption('--bucket <bucket>', 'bucket name')
    .requiredOption('--endpoint <endpoint>', 'S3 endpoint: a host such as s3.us-west-2.amazonaws.com, or an http(s):// URL')
    .requiredOption('--access-key <key>', 'access key id')
    .option('--region <region>', 'region', 'us-east-1')
    .option('--prefix <prefix>', 'path prefix inside the bucket', '')
    .option('--description <text>', 'description')
    .option('--secret-key-env <variable>', 'environment variable holding the secret key', 'S3_SECRET_KEY')
    .action(async (name: string, opts: { bucket: string; endpoint: string; accessKey: string; region: string; prefix: string; description?: string; secretKeyEnv: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const secretKey = process.env[opts.secretKeyEnv];
      if (!secretKey) throw new UsageError(`set the secret key in the environment variable ${opts.secretKeyEnv} (it is never taken on the command line)`);
      const body = await s.client.json('POST', destPath(), {
        body: { name, type: 's3', prefix: opts.prefix, ...(opts.description ? { description: opts.description } : {}), credentials: { accessKey: opts.accessKey, secretKey, bucketName: opts.bucket, region: opts.region, endpoint: opts.endpoint } },
      });
      if (s.json) return s.out.json(body);
      s.out.line(`Backup destination '${body.data.id}' added (bucket ${opts.bucket}).`);
    });

  dests
    .command('show <destination>')
    .alias('get')
    .description('show a backup destination (the secret key is never shown)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get(destPath(id));
      if (s.json) return s.out.json(body);
      const d = body.data as DestinationView;
      s.out.fields([['id', d.id], ['name', d.name], ['description', d.description ?? ''], ['bucket', d.credentials.bucketName], ['prefix', d.prefix], ['endpoint', d.credentials.endpoint], ['region', d.credentials.region], ['access key', d.credentials.accessKey]]);
    });

  dests
    .command('backups <destination>')
    .description('the addon backups stored at a destination')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get(`${destPath(id)}/backups`, { per_page: 100 });
      if (s.json) return s.out.json(body);
      s.out.table(['id', 'project', 'addon', 'status', 'size', 'created'], (body.data as { id: string; status: string; project?: { id?: string }; addon?: { id?: string }; config: { size: string }; createdAt: string }[]).map((b) => [b.id, b.project?.id, b.addon?.id, b.status, b.config.size, b.createdAt]));
    });

  dests
    .command('delete <destination>')
    .alias('rm')
    .description('delete a backup destination (refused while it holds backups)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.json('DELETE', destPath(id));
      if (s.json) return s.out.json(body);
      s.out.line(`Backup destination '${id}' deleted.`);
    });
}
