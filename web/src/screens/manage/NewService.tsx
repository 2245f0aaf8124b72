import { useState } from 'react';
import { get } from '../../api.ts';
import { CheckboxField, Field, Form, invalid, NumberField, SelectField, send, TextField } from '../../components/index.ts';
import { usePoll } from '../../hooks.ts';
import { href, Link, navigate } from '../../router.tsx';
import { GitPush, hostedRepoUrl } from './GitPush.tsx';
import { folderFiles, tarGz } from './tar.ts';

type Source = 'git' | 'upload' | 'build' | 'image';
const SOURCES: { value: Source; label: string; hint: string }[] = [
  { value: 'git', label: 'Push with git', hint: 'slipway hosts the repository; each push builds and deploys.' },
  { value: 'upload', label: 'Upload a folder or archive', hint: 'A source folder, or a .tar.gz of one; upload again to deploy a new version.' },
  { value: 'build', label: 'From a build service', hint: 'Deploy the builds of a build or combined service of this project.' },
  { value: 'image', label: 'From an image', hint: 'An image from a registry, with saved registry credentials if it is private.' },
];

const idOf = (name: string) => name.trim().toLowerCase().replace(/\s+/g, '-');

/** Create a service from a hosted git repository, an upload, a build service or an image. */
export function NewService({ project }: { project: string }) {
  const [source, setSource] = useState<Source>('git');
  const [name, setName] = useState('');
  const [branch, setBranch] = useState('main');
  const [plan, setPlan] = useState('nf-compute-20');
  const [instances, setInstances] = useState('1');
  const [port, setPort] = useState('8080');
  const [isPublic, setPublic] = useState(true);
  const [files, setFiles] = useState<FileList | null>(null);
  const [archive, setArchive] = useState<File | null>(null);
  const [buildService, setBuildService] = useState('');
  const [image, setImage] = useState('');
  const [credentials, setCredentials] = useState('');
  const [created, setCreated] = useState<{ id: string; source: Source; branch: string }>();

  const plans = usePoll((signal) => get<{ data: { plans: { id: string; cpuResource: number; ramResource: number }[] } }>('/v1/plans', signal).then((r) => r.data.plans), [], 0);
  const builders = usePoll((signal) => get<{ data: { services: { id: string; name: string; serviceType: string }[] } }>(`/v1/projects/${encodeURIComponent(project)}/services?per_page=100`, signal).then((r) => r.data.services.filter((s) => s.serviceType !== 'deployment')), [project], 0);
  const registries = usePoll((signal) => get<{ data: { credentials: { id: string; name: string }[] } }>('/v1/integrations/registries', signal).then((r) => r.data.credentials), [], 0);

  const submit = async () => {
    const n = Number(instances);
    const common = {
      name,
      billing: { deploymentPlan: plan },
      ports: port === '' ? [] : [{ name: 'p01', internalPort: Number(port), public: isPublic, protocol: 'HTTP' }],
    };
    const base = `/v1/projects/${encodeURIComponent(project)}/services`;
    if (source === 'upload' && !files?.length && !archive) throw invalid({ source: 'pick a folder or a .tar.gz archive to upload' });
    let body: Record<string, unknown>;
    let kind: string;
    if (source === 'git') {
      kind = 'combined';
      body = { ...common, deployment: { instances: n }, vcsData: { projectUrl: hostedRepoUrl(project, idOf(name)), projectType: 'self-hosted', projectBranch: branch } };
    } else if (source === 'upload') {
      kind = 'combined';
      body = { ...common, deployment: { instances: n }, buildSource: 'bundle' };
    } else if (source === 'build') {
      kind = 'deployment';
      body = { ...common, deployment: { instances: n, internal: { id: buildService, branch } } };
    } else {
      kind = 'deployment';
      body = { ...common, deployment: { instances: n, external: { imagePath: image, ...(credentials ? { credentials } : {}) } } };
    }
    const r = await send<{ data: { id: string } }>('POST', `${base}/${kind}`, body);
    if (source === 'upload') {
      const bundle = archive ?? (await tarGz(folderFiles(files!)));
      await send('POST', `/projects/${encodeURIComponent(project)}/services/${encodeURIComponent(r.data.id)}/bundles`, bundle, 'application/gzip');
    }
    return { id: r.data.id, source, branch };
  };

  if (created?.source === 'git') {
    return (
      <section>
        <h1 tabIndex={-1}>Push your code to {created.id}</h1>
        <p role="status">Service {created.id} is created. It builds when you push.</p>
        <GitPush project={project} service={created.id} branch={created.branch} />
        <p>
          <Link to={href.service(project, created.id)}>Go to the service and watch the build</Link>
        </p>
      </section>
    );
  }

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <span aria-current="page">New service</span>
      </nav>
      <h1 tabIndex={-1}>New service</h1>
      <Form
        submit="Create service"
        onSubmit={submit}
        onDone={(r) => {
          const c = r as { id: string; source: Source; branch: string };
          if (c.source === 'git') setCreated(c);
          else navigate(href.service(project, c.id));
        }}
      >
        <TextField field="name" label="Name" value={name} onChange={setName} required hint="3-54 characters: letters, digits, dashes or spaces; its id is the name in lower case." />
        <fieldset>
          <legend>Source</legend>
          {SOURCES.map((s) => (
            <div key={s.value} className="check-field">
              <span className="check">
                <input type="radio" id={`src-${s.value}`} name="source" value={s.value} checked={source === s.value} onChange={() => setSource(s.value)} aria-describedby={`src-${s.value}-hint`} />
                <label htmlFor={`src-${s.value}`}>{s.label}</label>
              </span>
              <p id={`src-${s.value}-hint`} className="hint">
                {s.hint}
              </p>
            </div>
          ))}
        </fieldset>
        {source === 'git' && <TextField field="vcsData.projectBranch" label="Branch to build" value={branch} onChange={setBranch} required />}
        {source === 'upload' && (
          <>
            <Field field="source" label="Source folder" hint="Everything in it but .git and node_modules is uploaded.">
              {(a) => <input {...a} type="file" {...{ webkitdirectory: '', directory: '' }} multiple onChange={(e) => (setFiles(e.target.files), setArchive(null))} />}
            </Field>
            <Field field="bundle" label="…or a .tar.gz archive" hint="Used instead of the folder when given.">
              {(a) => <input {...a} type="file" accept=".tar.gz,.tgz,application/gzip" onChange={(e) => setArchive(e.target.files?.[0] ?? null)} />}
            </Field>
          </>
        )}
        {source === 'build' && (
          <>
            <SelectField
              field="deployment.internal.id"
              label="Build service"
              value={buildService}
              onChange={setBuildService}
              options={[{ value: '', label: builders.data?.length === 0 ? 'No build services in this project' : 'Choose a build service' }, ...(builders.data ?? []).map((s) => ({ value: s.id, label: `${s.name} (${s.serviceType})` }))]}
            />
            <TextField field="deployment.internal.branch" label="Branch to deploy" value={branch} onChange={setBranch} />
          </>
        )}
        {source === 'image' && (
          <>
            <TextField field="deployment.external" label="Image" value={image} onChange={setImage} required hint="e.g. registry.example.com/team/app:1.4 (the docker runtime pulls it)" />
            <SelectField
              field="deployment.external.credentials"
              label="Registry credentials"
              value={credentials}
              onChange={setCredentials}
              hint={
                <>
                  Saved on the <Link to="/ui/registries">registry credentials</Link> page.
                </>
              }
              options={[{ value: '', label: 'None (a public image)' }, ...(registries.data ?? []).map((c) => ({ value: c.id, label: c.name }))]}
            />
          </>
        )}
        <div className="grid2">
          <SelectField field="billing.deploymentPlan" label="Plan" value={plan} onChange={setPlan} options={(plans.data ?? [{ id: plan, cpuResource: 0, ramResource: 0 }]).map((p) => ({ value: p.id, label: p.cpuResource ? `${p.id} (${p.cpuResource} CPU, ${p.ramResource} MB)` : p.id }))} />
          <NumberField field="deployment.instances" label="Instances" value={instances} onChange={setInstances} min={0} max={100} />
          <NumberField field="ports.0.internalPort" label="HTTP port the app listens on" value={port} onChange={setPort} hint="Empty: no port (a worker)." />
        </div>
        <CheckboxField field="ports.0.public" label="Public: reachable through the router" checked={isPublic} onChange={setPublic} />
      </Form>
    </section>
  );
}
