import { useCallback, useState } from 'react';
import { get, paths, type Instance, type Release, type Rollout, type Service } from '../api.ts';
import { usePoll } from '../hooks.ts';
import { href, Link } from '../router.tsx';
import { Problem, StatusBadge } from '../ui.tsx';
import { Actions } from './service/Actions.tsx';
import { Instances } from './service/Instances.tsx';
import { CurrentRollout } from './service/CurrentRollout.tsx';
import { Releases } from './service/Releases.tsx';
import { Logs } from './service/Logs.tsx';
import { Builds } from './service/Builds.tsx';
import { Environment } from './service/Environment.tsx';
import { VolumePanel } from './service/VolumePanel.tsx';
import { manageHref } from './manage/routes.ts';
import { AutoscalePanel } from './autoscale/AutoscalePanel.tsx';
import { ServiceMetrics } from './metrics/ServiceMetrics.tsx';

const POLL_MS = 2000;

/** One service: actions, instances, the current rollout (live), releases, environment with sources, logs, builds. */
export function ServicePage({ project, service }: { project: string; service: string }) {
  const svc = usePoll((signal) => get<{ data: Service }>(paths.service(project, service), signal).then((r) => r.data), [project, service], POLL_MS);
  const instances = usePoll((signal) => get<{ instances: Instance[] }>(paths.instances(project, service), signal).then((r) => r.instances), [project, service], POLL_MS);
  const rollouts = usePoll((signal) => get<{ rollouts: Rollout[] }>(paths.rollouts(project, service), signal).then((r) => r.rollouts), [project, service], POLL_MS);
  const releases = usePoll((signal) => get<{ releases: Release[] }>(paths.releases(project, service), signal).then((r) => r.releases), [project, service], POLL_MS * 2);
  const [notice, setNotice] = useState('');

  const refresh = useCallback(() => {
    svc.reload();
    instances.reload();
    rollouts.reload();
    releases.reload();
  }, [svc.reload, instances.reload, rollouts.reload, releases.reload]);

  const s = svc.data;
  const desired = s?.paused ? 0 : (s?.deployment?.instances ?? 0);
  const dns = s?.ports?.find((p) => p.dns)?.dns;

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <span aria-current="page">{service}</span>
      </nav>
      <div className="title">
        <h1 tabIndex={-1}>{s?.name ?? service}</h1>
        {s && <StatusBadge status={s.status.deployment.status} />}
        {s?.paused && <StatusBadge status="paused" label="paused" />}
        <Link to={manageHref.settings(project, service)} className="button-link secondary title-action">
          Settings
        </Link>
      </div>
      <Problem error={svc.error} />
      {s && (
        <p className="muted facts">
          <span>{s.serviceType}</span>
          {s.release && <span>release {s.release.number}</span>}
          <span>
            {desired} instance{desired === 1 ? '' : 's'} wanted
          </span>
          {dns && (
            <span>
              answers at <code>{dns}</code>
            </span>
          )}
        </p>
      )}
      {s?.status.deployment.message && (
        // What the last rollout did: why it failed and what the service returned to, or what a rollback restored.
        <p className={s.status.deployment.status === 'FAILED' ? 'deploy-message failed' : 'deploy-message'} aria-label="Deployment status">
          {s.status.deployment.message}
        </p>
      )}
      <p role="status" className="notice">
        {notice}
      </p>
      {s && <Actions project={project} service={s} onDone={(msg) => (setNotice(msg), refresh())} />}
      <CurrentRollout project={project} service={service} rollouts={rollouts} instances={instances.data} desired={desired} onFinished={refresh} />
      <Instances instances={instances} />
      <AutoscalePanel project={project} service={service} />
      {s && s.serviceType !== 'build' && <ServiceMetrics project={project} service={service} />}
      <VolumePanel project={project} service={service} />
      <Releases project={project} service={service} releases={releases} current={s?.release?.number} onDone={(msg) => (setNotice(msg), refresh())} />
      {s && s.serviceType !== 'build' && <Environment project={project} service={service} />}
      <Logs project={project} service={service} />
      {s && s.serviceType !== 'deployment' && <Builds project={project} service={service} />}
    </section>
  );
}
