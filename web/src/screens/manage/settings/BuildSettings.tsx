import { useState } from 'react';
import { get } from '../../../api.ts';
import { CheckboxField, Form, Panel, SelectField, send, TextAreaField, TextField } from '../../../components/index.ts';
import { usePoll } from '../../../hooks.ts';
import { GitPush, isHosted } from '../GitPush.tsx';
import { svcPath, type Save, type ServiceView } from './types.ts';

/** Where the code comes from and how it is built: branch, Dockerfile or buildpack, build rules. One save each. */
export function BuildSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const [branch, setBranch] = useState(svc.vcsData?.projectBranch ?? 'main');
  const [engine, setEngine] = useState<'buildpack' | 'dockerfile'>(svc.buildSettings?.dockerfile ? 'dockerfile' : 'buildpack');
  const [dockerFilePath, setDockerFilePath] = useState(svc.buildSettings?.dockerfile?.dockerFilePath ?? '/Dockerfile');
  const [dockerWorkDir, setDockerWorkDir] = useState(svc.buildSettings?.dockerfile?.dockerWorkDir ?? '/');
  const [ignore, setIgnore] = useState((svc.buildConfiguration?.pathIgnoreRules ?? []).join('\n'));
  const [allowList, setAllowList] = useState(svc.buildConfiguration?.isAllowList === true);
  const hosted = isHosted(svc.vcsData?.projectUrl, project, svc.id);
  const path = svcPath(project, svc.id);

  const saveSource = () => save('Build source saved', () => send('POST', `${path}/build-source`, { projectBranch: branch }));
  const saveOptions = () =>
    save('Build options saved', () =>
      send('POST', `${path}/build-options`, {
        ...(engine === 'dockerfile' ? { dockerfile: { dockerFilePath, dockerWorkDir } } : { buildpack: {} }),
        pathIgnoreRules: ignore.split(/\r?\n/).map((x) => x.trim()).filter(Boolean),
        isAllowList: allowList,
      }),
    );

  return (
    <Panel id="build" title="Build">
      {svc.buildSource === 'bundle' ? (
        <p>Builds uploaded source bundles: upload a new folder or archive to build it.</p>
      ) : (
        <>
          <p>
            Builds <code>{svc.vcsData?.projectUrl}</code>
          </p>
          {hosted && <GitPush project={project} service={svc.id} branch={svc.vcsData?.projectBranch ?? 'main'} />}
          <Form submit="Save branch" onSubmit={saveSource} label="Build source">
            <TextField field="projectBranch" label="Branch to build" value={branch} onChange={setBranch} />
          </Form>
        </>
      )}
      <h3 className="sub">Build options</h3>
      <Form submit="Save build options" onSubmit={saveOptions} label="Build options">
        <SelectField field="engine" label="Build with" value={engine} onChange={setEngine} options={[{ value: 'buildpack', label: 'Buildpack (detects the language)' }, { value: 'dockerfile', label: 'Dockerfile (docker runtime)' }]} />
        {engine === 'dockerfile' && (
          <div className="grid2">
            <TextField field="dockerfile.dockerFilePath" label="Dockerfile path" value={dockerFilePath} onChange={setDockerFilePath} />
            <TextField field="dockerfile.dockerWorkDir" label="Build context" value={dockerWorkDir} onChange={setDockerWorkDir} />
          </div>
        )}
        <TextAreaField field="pathIgnoreRules" label="Path rules (globs, one a line)" value={ignore} onChange={setIgnore} rows={3} hint="A commit that changes only these paths is not built." />
        <CheckboxField field="isAllowList" label="Treat the rules as an allow list (build only when one of these paths changes)" checked={allowList} onChange={setAllowList} />
      </Form>
    </Panel>
  );
}

/** Continuous deployment: on, each successful build rolls out; off, builds wait for a manual deploy. */
export function CdSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const url = `/projects/${encodeURIComponent(project)}/services/${encodeURIComponent(svc.id)}/cd`;
  const cd = usePoll((signal) => get<{ enabled: boolean; buildId: string | null }>(url, signal), [url], 0);
  const on = cd.data?.enabled;
  return (
    <Panel id="cd" title="Continuous deployment">
      <p aria-live="polite">{on === undefined ? 'Loading…' : on ? 'On: every successful build rolls out.' : `Off: builds wait for a manual deploy${cd.data?.buildId ? ` (pinned to build ${cd.data.buildId})` : ''}.`}</p>
      {on !== undefined && (
        <Form submit={on ? 'Turn continuous deployment off' : 'Turn continuous deployment on'} onSubmit={() => save(on ? 'Continuous deployment off' : 'Continuous deployment on', () => send('PUT', url, { enabled: !on })).then(() => cd.reload())} label="Continuous deployment">
          <></>
        </Form>
      )}
    </Panel>
  );
}
