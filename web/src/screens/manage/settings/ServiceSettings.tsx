import { useCallback, useState } from 'react';
import { get } from '../../../api.ts';
import { ConfirmButton, Panel, send } from '../../../components/index.ts';
import { usePoll } from '../../../hooks.ts';
import { href, Link, navigate } from '../../../router.tsx';
import { Problem } from '../../../ui.tsx';
import { BuildSettings, CdSettings } from './BuildSettings.tsx';
import { PlanSettings, ScaleSettings } from './DeploySettings.tsx';
import { EnvSettings, FileSettings } from './EnvSettings.tsx';
import { FollowRollout, latestRollout } from './FollowRollout.tsx';
import { HealthSettings } from './HealthSettings.tsx';
import { PortSettings } from './PortSettings.tsx';
import { svcPath, type ServiceView } from './types.ts';

const SECTIONS = [
  ['env', 'Environment'],
  ['files', 'Files'],
  ['ports', 'Ports and access'],
  ['health', 'Health checks'],
  ['plan', 'Plan'],
  ['scale', 'Instances and strategy'],
  ['build', 'Build'],
  ['cd', 'Continuous deployment'],
  ['danger', 'Danger zone'],
] as const;

/**
 * A service's settings, each part saved as one change (one new release) and followed through the rollout
 * it starts, shown at the top of the page.
 */
export function ServiceSettings({ project, service }: { project: string; service: string }) {
  const svc = usePoll((signal) => get<{ data: ServiceView }>(svcPath(project, service), signal).then((r) => r.data), [project, service], 0);
  const [follow, setFollow] = useState<{ after: number; what: string; n: number }>();
  const [version, setVersion] = useState(0);
  const [fresh, setFresh] = useState<ServiceView>();

  const save = useCallback(
    async (what: string, call: () => Promise<unknown>) => {
      const after = await latestRollout(project, service).catch(() => 0);
      await call();
      setFollow((f) => ({ after, what, n: (f?.n ?? 0) + 1 }));
      // The sections start again from what the API now holds (secrets hidden again).
      setFresh((await get<{ data: ServiceView }>(svcPath(project, service))).data);
      setVersion((v) => v + 1);
    },
    [project, service],
  );

  const s = fresh ?? svc.data;
  const runs = s && s.serviceType !== 'build';
  const builds = s && s.serviceType !== 'deployment';
  const shown = SECTIONS.filter(([id]) => (runs || !['env', 'files', 'ports', 'health', 'scale'].includes(id)) && (builds || !['build', 'cd'].includes(id)));

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <Link to={href.service(project, service)}>{service}</Link> / <span aria-current="page">Settings</span>
      </nav>
      <h1 tabIndex={-1}>Settings of {s?.name ?? service}</h1>
      <Problem error={svc.error} />
      {s && (
        <nav aria-label="Settings sections" className="section-nav">
          {shown.map(([id, label]) => (
            <a key={id} href={`#${id}`}>
              {label}
            </a>
          ))}
        </nav>
      )}
      {follow && <FollowRollout n={follow.n} project={project} service={service} after={follow.after} what={follow.what} />}
      {s && (
        <div key={version}>
          {runs && <EnvSettings project={project} svc={s} save={save} />}
          {runs && <FileSettings project={project} svc={s} save={save} />}
          {runs && <PortSettings project={project} svc={s} save={save} />}
          {runs && <HealthSettings project={project} svc={s} save={save} />}
          <PlanSettings project={project} svc={s} save={save} />
          {runs && <ScaleSettings project={project} svc={s} save={save} />}
          {builds && <BuildSettings project={project} svc={s} save={save} />}
          {builds && <CdSettings project={project} svc={s} save={save} />}
          <Panel id="danger" title="Danger zone">
            <p>Deleting the service stops its instances and removes its releases, builds and routes. It cannot be undone.</p>
            <ConfirmButton
              label="Delete service"
              title={`Delete ${s.name}?`}
              confirmName={s.id}
              confirmLabel={`Delete ${s.id}`}
              danger
              onConfirm={() => send('DELETE', svcPath(project, s.id))}
              onDone={() => navigate(href.project(project))}
            >
              Its instances stop, and the router stops answering for it.
            </ConfirmButton>
          </Panel>
        </div>
      )}
    </section>
  );
}
