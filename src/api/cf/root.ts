/** The Cloud Foundry `/v3` root, info and jobs, and the one default organization. */
import type { Api } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import { NotFoundError } from '../../errors/errors.ts';
import { ORG_GUID, orgView, paginated } from './views.ts';
import { GuidParams, ListQuery, type ListQ } from './schemas.ts';
import { baseOf, csv, jobView, type CfLookups } from './context.ts';

export function registerCfRoot(app: Api, cx: CfLookups): void {
  const { visibleProjects } = cx;

  // ---- root and organization ----------------------------------------------------------------------
  app.get('/', { schema: { hide: true } }, async (req) => {
    const base = baseOf(req);
    return {
      links: {
        self: { href: base },
        bits_service: null,
        cloud_controller_v2: null,
        cloud_controller_v3: { href: `${base}/v3`, meta: { version: '3.180.0' } },
        network_policy_v0: null,
        network_policy_v1: null,
        login: null,
        uaa: null,
        credhub: null,
        routing: null,
        logging: null,
        log_cache: null,
        log_stream: null,
        app_ssh: null,
      },
    };
  });
  app.get('/v3', { schema: { hide: true } }, async (req) => {
    const base = `${baseOf(req)}/v3`;
    const names = ['apps', 'builds', 'deployments', 'droplets', 'organizations', 'packages', 'processes', 'revisions', 'spaces', 'info'];
    return { links: { self: { href: base }, ...Object.fromEntries(names.map((n) => [n, { href: `${base}/${n}` }])) } };
  });
  app.get('/v3/info', { schema: { tags: ['cf'] } }, async (req) => ({
    build: '',
    cli_version: { minimum: null, recommended: null },
    custom: {},
    description: 'slipway: a self-hosted platform-as-a-service',
    name: 'slipway',
    version: 1,
    osbapi_version: '',
    links: { self: { href: `${baseOf(req)}/v3/info` }, support: { href: '' } },
  }));
  app.get('/v3/jobs/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { guid } = req.params as { guid: string };
    if (!guid.startsWith('job-')) throw new NotFoundError('job', guid);
    return { ...jobView(baseOf(req), 'operation'), guid, links: { self: { href: `${baseOf(req)}/v3/jobs/${guid}` } } };
  });

  const firstProjectCreated = async (p: Principal) => (await visibleProjects(p)).map((x) => x.createdAt).sort()[0] ?? new Date(0).toISOString();
  app.get('/v3/organizations', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const names = csv(q.names);
    const guids = csv(q.guids);
    const orgs = [orgView(baseOf(req), await firstProjectCreated(req.principal))].filter((o) => (!names || names.has(o.name)) && (!guids || guids.has(o.guid)));
    return paginated(orgs, q, baseOf(req), '/v3/organizations');
  });
  app.get('/v3/organizations/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    if ((req.params as { guid: string }).guid !== ORG_GUID) throw new NotFoundError('organization', (req.params as { guid: string }).guid);
    return orgView(baseOf(req), await firstProjectCreated(req.principal));
  });
}
