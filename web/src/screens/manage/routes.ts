/** The routes of the create, settings, jobs and admin screens (router.tsx parses them through here). */
const e = encodeURIComponent;
const BASE = '/ui';

export type ManageRoute =
  | { name: 'new-project' }
  | { name: 'new-service'; project: string }
  | { name: 'service-settings'; project: string; service: string }
  | { name: 'jobs'; project: string }
  | { name: 'new-job'; project: string }
  | { name: 'job'; project: string; job: string }
  | { name: 'tokens' }
  | { name: 'registries' };

export const MANAGE_ROUTES = new Set(['new-project', 'new-service', 'service-settings', 'jobs', 'new-job', 'job', 'tokens', 'registries']);
export function isManageRoute(r: { name: string }): r is ManageRoute {
  return MANAGE_ROUTES.has(r.name);
}

export function parseManage(parts: string[]): ManageRoute | undefined {
  if (parts.length === 1 && parts[0] === 'new-project') return { name: 'new-project' };
  if (parts.length === 1 && parts[0] === 'tokens') return { name: 'tokens' };
  if (parts.length === 1 && parts[0] === 'registries') return { name: 'registries' };
  if (parts[0] !== 'projects' || parts.length < 3) return undefined;
  const project = parts[1];
  if (parts.length === 3 && parts[2] === 'new-service') return { name: 'new-service', project };
  if (parts.length === 3 && parts[2] === 'jobs') return { name: 'jobs', project };
  if (parts.length === 4 && parts[2] === 'jobs' && parts[3] === 'new') return { name: 'new-job', project };
  if (parts.length === 4 && parts[2] === 'jobs') return { name: 'job', project, job: parts[3] };
  if (parts.length === 5 && parts[2] === 'services' && parts[4] === 'settings') return { name: 'service-settings', project, service: parts[3] };
  return undefined;
}

export const manageHref = {
  newProject: () => `${BASE}/new-project`,
  newService: (p: string) => `${BASE}/projects/${e(p)}/new-service`,
  settings: (p: string, s: string) => `${BASE}/projects/${e(p)}/services/${e(s)}/settings`,
  jobs: (p: string) => `${BASE}/projects/${e(p)}/jobs`,
  newJob: (p: string) => `${BASE}/projects/${e(p)}/jobs/new`,
  job: (p: string, j: string) => `${BASE}/projects/${e(p)}/jobs/${e(j)}`,
  tokens: () => `${BASE}/tokens`,
  registries: () => `${BASE}/registries`,
};
