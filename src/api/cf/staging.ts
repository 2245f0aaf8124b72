/** Cloud Foundry packages of `bits`, the builds that stage them, and the droplets that successful builds leave. */
import crypto from 'node:crypto';
import { Type } from '@sinclair/typebox';
import multipart from '@fastify/multipart';
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import type { BuildRecord } from '../../store/builds-repo.ts';
import { NotFoundError, PayloadTooLargeError, UnprocessableError, ValidationError, BadRequestError } from '../../errors/errors.ts';
import { serviceKey } from '../../domain/ids.ts';
import { zipToTarGz } from '../../builds/zip-bundle.ts';
import { appGuid, buildIdOfDroplet, buildView, dropletGuid, dropletView, packageView, paginated } from './views.ts';
import { Guid, GuidParams, Lifecycle, ListQuery, Metadata, Rel, type ListQ } from './schemas.ts';
import { baseOf, csv, type CfLookups } from './context.ts';

export function registerCfStaging(app: Api, deps: ApiDeps, cx: CfLookups): void {
  const { auth, catalog, builds, store } = deps;
  const { allApps, findApp, appOfKey, currentBuildId } = cx;

  const packageGuidOf = async (b: BuildRecord): Promise<string | null> => {
    if (!b.sha.startsWith('bundle:')) return null;
    const digest = b.sha.slice('bundle:'.length);
    return (await store.packages.list(b.projectId, b.serviceId)).find((x) => x.digest === digest)?.id ?? null;
  };
  const findBuild = async (p: Principal, guid: string, kind: 'build' | 'droplet'): Promise<{ build: BuildRecord; svc: ServiceRecord }> => {
    const id = kind === 'droplet' ? buildIdOfDroplet(guid) : guid;
    const b = id ? await store.builds.find(id) : undefined;
    if (!b || (kind === 'droplet' && b.status !== 'SUCCESS')) throw new NotFoundError(kind, guid);
    try {
      auth.authorize(p, b.projectId, 'read');
    } catch {
      throw new NotFoundError(kind, guid);
    }
    return { build: b, svc: await store.services.get(b.projectId, b.serviceId) };
  };

  // ---- droplets ---------------------------------------------------------------------------------------
  const dropletsOf = async (svc: ServiceRecord) => (await store.builds.list(svc.projectId, svc.id, 1000)).filter((b) => b.status === 'SUCCESS');
  const dropletOut = async (base: string, b: BuildRecord, svc: ServiceRecord) => dropletView(base, b, appGuid(svc), await packageGuidOf(b));
  app.get('/v3/apps/:guid/droplets/current', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const id = await currentBuildId(svc);
    const b = id ? await store.builds.find(id) : undefined;
    if (!b) throw new NotFoundError('droplet', 'current');
    return dropletOut(baseOf(req), b, svc);
  });
  app.get('/v3/apps/:guid/relationships/current_droplet', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const guid = (req.params as { guid: string }).guid;
    const svc = await findApp(req.principal, guid);
    const id = await currentBuildId(svc);
    if (!id) throw new NotFoundError('droplet', 'current');
    return { data: { guid: dropletGuid(id) }, links: { self: { href: `${baseOf(req)}/v3/apps/${guid}/relationships/current_droplet` }, related: { href: `${baseOf(req)}/v3/apps/${guid}/droplets/current` } } };
  });
  app.patch('/v3/apps/:guid/relationships/current_droplet', { schema: { tags: ['cf'], params: GuidParams, body: Rel } }, async (req) => {
    const guid = (req.params as { guid: string }).guid;
    const svc = await findApp(req.principal, guid);
    const dropletId = (req.body as { data: { guid: string } }).data.guid;
    const buildId = buildIdOfDroplet(dropletId);
    const b = buildId ? await store.builds.find(buildId) : undefined;
    if (!b || b.status !== 'SUCCESS' || b.projectId !== svc.projectId || b.serviceId !== svc.id) throw new UnprocessableError('Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
    if (svc.kind !== 'combined') throw new UnprocessableError('only apps staged here have droplets');
    await catalog.patch(req.principal, svc.projectId, svc.id, 'combined', { deployment: { ...(svc.spec.deployment ?? { instances: 1 }), internal: { id: svc.id, buildId: b.id } } });
    return { data: { guid: dropletId }, links: { self: { href: `${baseOf(req)}/v3/apps/${guid}/relationships/current_droplet` }, related: { href: `${baseOf(req)}/v3/apps/${guid}/droplets/current` } } };
  });
  app.get('/v3/apps/:guid/droplets', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = await Promise.all((await dropletsOf(svc)).map((b) => dropletOut(baseOf(req), b, svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/droplets`);
  });
  app.get('/v3/droplets', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const guids = csv(q.guids);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => !apps || apps.has(appGuid(s)))) {
      for (const b of await dropletsOf(svc)) if (!guids || guids.has(dropletGuid(b.id))) out.push(await dropletOut(baseOf(req), b, svc));
    }
    return paginated(out, q, baseOf(req), '/v3/droplets');
  });
  app.get('/v3/droplets/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { build, svc } = await findBuild(req.principal, (req.params as { guid: string }).guid, 'droplet');
    return dropletOut(baseOf(req), build, svc);
  });

  // ---- packages ---------------------------------------------------------------------------------------
  const findPackage = async (p: Principal, guid: string) => {
    const pkg = await store.packages.find(guid);
    if (!pkg) throw new NotFoundError('package', guid);
    const svc = await appOfKey(p, serviceKey(pkg.projectId, pkg.serviceId)).catch(() => {
      throw new NotFoundError('package', guid);
    });
    return { pkg, svc };
  };
  app.post(
    '/v3/packages',
    { schema: { tags: ['cf'], body: Type.Object({ type: Type.Literal('bits'), relationships: Type.Object({ app: Rel }, { additionalProperties: false }), data: Type.Optional(Type.Object({})), metadata: Metadata }, { additionalProperties: false }) } },
    async (req, reply) => {
      const body = req.body as { relationships: { app: { data: { guid: string } } } };
      const svc = await findApp(req.principal, body.relationships.app.data.guid).catch(() => {
        throw ValidationError.one('relationships.app', 'exists', 'App must exist');
      });
      auth.authorize(req.principal, svc.projectId, 'write');
      if (svc.kind !== 'combined') throw ValidationError.one('relationships.app', 'buildable', 'only apps that build from source take bits');
      const pkg = await store.packages.create({ id: crypto.randomUUID(), projectId: svc.projectId, serviceId: svc.id });
      return reply.status(201).send(packageView(baseOf(req), pkg, appGuid(svc)));
    },
  );
  app.get('/v3/packages', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const states = csv(q.states);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => !apps || apps.has(appGuid(s)))) {
      for (const pkg of await store.packages.list(svc.projectId, svc.id)) if (!states || states.has(pkg.state)) out.push(packageView(baseOf(req), pkg, appGuid(svc)));
    }
    return paginated(out, q, baseOf(req), '/v3/packages');
  });
  app.get('/v3/apps/:guid/packages', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = (await store.packages.list(svc.projectId, svc.id)).map((pkg) => packageView(baseOf(req), pkg, appGuid(svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/packages`);
  });
  app.get('/v3/packages/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { pkg, svc } = await findPackage(req.principal, (req.params as { guid: string }).guid);
    return packageView(baseOf(req), pkg, appGuid(svc));
  });
  app.get('/v3/packages/:guid/droplets', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const { pkg, svc } = await findPackage(req.principal, (req.params as { guid: string }).guid);
    const list = await Promise.all((await dropletsOf(svc)).filter((b) => pkg.digest && b.sha === `bundle:${pkg.digest}`).map((b) => dropletOut(baseOf(req), b, svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/packages/${pkg.id}/droplets`);
  });
  // The upload takes multipart/form-data (field `bits`: a zip), parsed only on this route.
  app.register(async (scope) => {
    await scope.register(multipart, { limits: { fileSize: deps.uploadLimitBytes, files: 1, fields: 10, fieldSize: 1024 * 1024 } });
    scope.post('/v3/packages/:guid/upload', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
      const { pkg, svc } = await findPackage(req.principal, (req.params as { guid: string }).guid);
      auth.authorize(req.principal, svc.projectId, 'write');
      if (!req.isMultipart()) throw ValidationError.one('bits', 'required', 'upload the package as multipart/form-data with a zip in the field `bits`');
      if (pkg.state !== 'AWAITING_UPLOAD' && pkg.state !== 'FAILED') throw new UnprocessableError(`Package is ${pkg.state}: bits can be uploaded only once`);
      let zip: Buffer | undefined;
      try {
        for await (const part of req.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'bits') {
              part.file.resume();
              throw ValidationError.one(part.fieldname, 'unknown', 'the only file field is `bits`');
            }
            zip = await part.toBuffer();
          }
        }
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw new PayloadTooLargeError(`the bits exceed ${deps.uploadLimitBytes} bytes`);
        if ((err as { code?: string }).code?.startsWith('FST_')) throw new BadRequestError(`malformed multipart body: ${(err as Error).message}`);
        throw err;
      }
      if (!zip) throw ValidationError.one('bits', 'required', 'the field `bits` with a zip of the app is required');
      await store.packages.setState(pkg.id, 'PROCESSING_UPLOAD');
      try {
        const { digest } = builds.storeBundle(await zipToTarGz(zip));
        await store.packages.setState(pkg.id, 'READY', { digest, error: null });
      } catch (err) {
        await store.packages.setState(pkg.id, 'AWAITING_UPLOAD', { error: (err as Error).message });
        throw err;
      }
      return packageView(baseOf(req), await store.packages.get(pkg.id), appGuid(svc));
    });
  });

  // ---- builds -----------------------------------------------------------------------------------------
  const buildOut = async (base: string, b: BuildRecord, svc: ServiceRecord) => buildView(base, b, appGuid(svc), await packageGuidOf(b));
  app.post(
    '/v3/builds',
    {
      schema: {
        tags: ['cf'],
        body: Type.Object(
          {
            package: Type.Object({ guid: Guid }, { additionalProperties: false }),
            lifecycle: Lifecycle,
            staging_memory_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
            staging_disk_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
            staging_log_rate_limit_bytes_per_second: Type.Optional(Type.Integer({ minimum: -1 })),
            metadata: Metadata,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const body = req.body as { package: { guid: string }; lifecycle?: { type: string } };
      const { pkg, svc } = await findPackage(req.principal, body.package.guid).catch(() => {
        throw ValidationError.one('package.guid', 'exists', 'Unable to use package. Ensure that the package exists and you have access to it.');
      });
      if (body.lifecycle && body.lifecycle.type !== 'buildpack') throw ValidationError.one('lifecycle.type', 'supported', 'only buildpack staging is available on this platform');
      if (pkg.state !== 'READY' || !pkg.digest) throw new UnprocessableError('The package is not ready: upload its bits first.');
      const b = await builds.buildStoredBundle(req.principal, svc.projectId, svc.id, pkg.digest);
      return reply.status(201).send(await buildOut(baseOf(req), b, svc));
    },
  );
  app.get('/v3/builds', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const states = csv(q.states);
    const pkgs = csv(q.package_guids);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => s.kind === 'combined' && (!apps || apps.has(appGuid(s))))) {
      for (const b of await store.builds.list(svc.projectId, svc.id, 1000)) {
        const v = await buildOut(baseOf(req), b, svc);
        if ((!states || states.has(v.state)) && (!pkgs || (v.package.guid && pkgs.has(v.package.guid)))) out.push(v);
      }
    }
    return paginated(out, q, baseOf(req), '/v3/builds');
  });
  app.get('/v3/apps/:guid/builds', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = await Promise.all((await store.builds.list(svc.projectId, svc.id, 1000)).map((b) => buildOut(baseOf(req), b, svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/builds`);
  });
  app.get('/v3/builds/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { build, svc } = await findBuild(req.principal, (req.params as { guid: string }).guid, 'build');
    return buildOut(baseOf(req), build, svc);
  });
}
