/**
 * The bubblewrap sandbox of a process-runtime instance: an empty tmpfs root with read-only /usr and /etc,
 * the artifact read-only at /app, a private /tmp, /proc and /dev, runtime files bound read-only at their
 * absolute paths, persistent volumes bound read-write at their mount paths, and private PID/IPC/UTS namespaces. The network is the host's: the router reaches the
 * instance on the port the driver allocated. No `--die-with-parent`: the sandbox must outlive the supervisor
 * that started it (a new one adopts it); a stop ends it by signalling its whole process group.
 */
import fs from 'node:fs';

export const BWRAP = '/usr/bin/bwrap';
export const APP_DIR = '/app';

/** Trees bound read-only from the host: a runtime file cannot be placed under them. */
const HOST_TREES = ['/usr', '/etc', '/bin', '/lib', '/lib64', '/sbin', '/proc', '/dev'];

export function fileTargetProblem(target: string): string | undefined {
  if (!target.startsWith('/') || target.split('/').includes('..')) return `runtime file path '${target}' must be absolute without '..'`;
  const clash = HOST_TREES.find((t) => target === t || target.startsWith(`${t}/`));
  if (clash) return `runtime file path '${target}' lies under ${clash}, which instances see read-only from the host`;
  if (target === APP_DIR || target.startsWith(`${APP_DIR}/`)) return `runtime file path '${target}' lies under ${APP_DIR}, the read-only artifact`;
  return undefined;
}

export function bwrapArgs(opts: { artifactDir?: string; workDir: string; files: { hostPath: string; target: string }[]; volumes?: { hostPath: string; mountPath: string }[] }): string[] {
  const args = ['--tmpfs', '/', '--ro-bind', '/usr', '/usr'];
  for (const link of ['bin', 'lib', 'lib64', 'sbin']) {
    if (fs.existsSync(`/usr/${link}`)) args.push('--symlink', `usr/${link}`, `/${link}`);
  }
  args.push('--ro-bind', '/etc', '/etc', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  if (opts.artifactDir) args.push('--ro-bind', opts.artifactDir, APP_DIR);
  // Persistent volumes are bound read-write at their mount paths (after /tmp, so one may lie under it). bwrap
  // makes missing parents mode 0700 and root's: an unprivileged server inside (an addon) needs a top-level path.
  for (const v of opts.volumes ?? []) args.push('--bind', v.hostPath, v.mountPath);
  for (const f of opts.files) args.push('--ro-bind', f.hostPath, f.target);
  args.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', 'slipway', '--chdir', opts.workDir, '--');
  return [BWRAP, ...args];
}
