/**
 * The API server: one Fastify app carrying every face (`/v1` Northflank, native routes; `/v3` and the
 * formation routes join later). Bodies are validated by the TypeBox schemas on each route; every error goes
 * through exactly one mapper per face; every route but /healthz needs a bearer token.
 */
import Fastify, { type FastifyRequest } from 'fastify';
import { registerLeases } from './native/leases.ts';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import { classify } from './error-mapping.ts';
import { northflankError } from './v1/nf-errors.ts';
import { problemDetails } from './native/problem.ts';
import { registerV1 } from './v1/routes.ts';
import { registerNative } from './native/routes.ts';
import { registerCf } from './cf/routes.ts';
import { registerFormations } from './formations/routes.ts';
import { registerGit } from './native/git.ts';
import { registerCertificates } from './native/certificates.ts';
import { registerV1Jobs } from './v1/jobs.ts';
import { registerV1Registries } from './v1/registries.ts';
import { registerV1Addons } from './v1/addons.ts';
import { registerV1BackupDestinations } from './v1/backup-destinations.ts';
import { registerNativeRuns } from './native/runs.ts';
import { registerOverview } from './native/overview.ts';
import { registerV1Secrets } from './v1/secrets.ts';
import { registerV1Tags } from './v1/tags.ts';
import { registerV1Volumes } from './v1/volumes.ts';
import { registerPipelines } from './v1/pipelines.ts';
import { registerNativeLogs } from './native/logs.ts';
import { registerObserve } from './observe-routes.ts';
import { registerNativeAutoscaling } from './native/autoscaling.ts';
import { registerMetrics } from './native/metrics.ts';
import { cfError } from './cf/cf-errors.ts';
import { ERROR_CODES } from '../errors/errors.ts';
import type { Principal } from '../services/auth.ts';
import type { Api, ApiDeps } from './deps.ts';

export type { Api, ApiDeps } from './deps.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

// The Cloud Foundry root documents are public, as in CF: clients read them before they hold a token.
const PUBLIC_PATHS = new Set(['/healthz', '/', '/v3']);

export async function buildApi(deps: ApiDeps): Promise<Api> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }),
    bodyLimit: deps.bodyLimitBytes,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies are validated exactly (no coercion, unknown fields refused, every error reported); query
  // strings and path parameters arrive as text, so they are coerced to the schema's types.
  const bodyAjv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, coerceTypes: false, strict: false });
  const textAjv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, coerceTypes: 'array', strict: false });
  for (const a of [bodyAjv, textAjv]) (ajvFormats as unknown as (a: Ajv) => void)(a);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));

  // The Northflank client sends `Content-Type: application/json` on every call, bodiless DELETEs and
  // actions included: an empty JSON body means "no body", not an error.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  // Only JSON (and bundles, below) are accepted: any other type is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || body === undefined) return done(null, undefined);
    defaultJson(req, body as string, done);
  });
  app.addContentTypeParser(['application/gzip', 'application/x-gzip', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: deps.uploadLimitBytes }, (_req, body, done) => done(null, body));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'slipway API', version: '0.1.0', description: `Northflank-shaped /v1 and native routes. Error codes: ${ERROR_CODES.join(', ')}.` },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    const path = req.url.split('?', 1)[0];
    if (PUBLIC_PATHS.has(path) || path === '/ui' || path.startsWith('/ui/')) return;
    // A release flow's webhook carries its own secret instead of a token (checked by the route).
    if (path.startsWith('/hooks/release-flows/')) return;
    if (path.startsWith('/git/')) {
      // git asks for credentials only after a Basic challenge; the token is the password.
      reply.header('www-authenticate', 'Basic realm="slipway"');
      req.principal = await deps.auth.authenticate(req.headers.authorization, { basic: true });
      reply.removeHeader('www-authenticate');
      return;
    }
    req.principal = await deps.auth.authenticate(req.headers.authorization);
  });

  app.setErrorHandler((err, req, reply) => {
    const { error, unexpected } = classify(err);
    const logId = unexpected ? (error as { logId?: string }).logId : undefined;
    if (unexpected) req.log.error({ err: unexpected, logId, method: req.method, url: req.url }, 'unexpected error');
    if (error.status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer');
    if (req.url.startsWith('/v1/') || req.url === '/v1') {
      return reply.status(error.status).type('application/json').send(northflankError(error, logId));
    }
    if (isCf(req.url)) {
      const cf = cfError(error, logId);
      return reply.status(cf.status).type('application/json').send(cf.body);
    }
    return reply.status(error.status).type('application/problem+json').send(problemDetails(error, req.url.split('?', 1)[0], logId));
  });
  app.setNotFoundHandler(async (req, reply) => {
    const body = { message: `no route ${req.method} ${req.url.split('?', 1)[0]}` };
    if (req.url.startsWith('/v1/')) return reply.status(404).send({ error: { status: 404, message: body.message, id: 'not_found' } });
    if (isCf(req.url)) return reply.status(404).send({ errors: [{ code: 10000, title: 'CF-NotFound', detail: 'Unknown request' }] });
    return reply.status(404).type('application/problem+json').send({ type: 'https://slipway.dev/problems/not_found', title: 'Not found', status: 404, detail: body.message, code: 'not_found' });
  });

  app.get('/healthz', { schema: { hide: true } }, async (_req, reply) => {
    const node = deps.leases ? { nodeId: deps.leases.nodeId } : {};
    if (!deps.isHealthy()) return reply.status(503).send({ status: 'starting', ...node });
    return { status: 'ok', ...node };
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  registerV1(app, deps);
  registerNative(app, deps);
  if (deps.leases) registerLeases(app, deps.leases);
  registerCf(app, deps);
  registerFormations(app, deps);
  registerGit(app, deps);
  registerCertificates(app, deps);
  registerV1Jobs(app, deps);
  registerV1Registries(app, deps);
  if (deps.secrets) {
    registerV1Secrets(app, deps.secrets);
    registerV1Tags(app, deps.secrets);
  }
  if (deps.volumes) registerV1Volumes(app, deps.volumes);
  if (deps.addons) registerV1Addons(app, deps);
  if (deps.addons) registerV1BackupDestinations(app, deps);
  registerNativeRuns(app, deps);
  registerOverview(app, deps);
  if (deps.flows) registerPipelines(app, deps.flows.service, deps.flows.triggers);
  registerNativeLogs(app, deps);
  if (deps.observe) registerObserve(app, deps.observe);
  registerNativeAutoscaling(app, deps);
  if (deps.metrics) registerMetrics(app, deps.metrics);
  app.register(import('./dashboard.ts'));
  return app;
}

function isCf(url: string): boolean {
  return url === '/v3' || url.startsWith('/v3/') || url.startsWith('/v3?');
}
