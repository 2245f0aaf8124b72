/**
 * A small client of the Registry HTTP API v2 (the OCI distribution spec) for pushing images without a Docker
 * daemon: read manifests and blobs, upload blobs (monolithic POST + PUT, or a cross-repository mount), put
 * manifests. It follows the registry's challenge once per repository and access: Basic with the
 * credentials, or Bearer with a token from the registry's token service.
 *
 * Plain HTTP is used only for a registry named insecure (`RegistryOptions.insecure`), never by falling
 * back, so credentials never travel in clear to a registry that was not meant to be reached that way.
 */
import { createHash } from 'node:crypto';

export const MANIFEST_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;
const ACCEPT = Object.values(MANIFEST_TYPES).join(', ');

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** `host[:port]` of the registry API */
  endpoint: string;
  credentials?: RegistryCredentials;
  /** speak plain HTTP (a registry on a private network or on this machine) */
  insecure?: boolean;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function challengeOf(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  const m = header?.match(/^\s*(\w+)\s*(.*)$/s);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1].toLowerCase(), params };
}

export class RegistryClient {
  private readonly base: string;
  /** Authorization header per scope, once a challenge was answered */
  private readonly authorizations = new Map<string, string>();

  constructor(private readonly opts: RegistryOptions) {
    this.base = `${opts.insecure ? 'http' : 'https'}://${opts.endpoint}/v2`;
  }

  /**
   * One request, answering the registry's challenge once. `scope` is the token scope the request needs
   * (`repository:team/app:pull,push`). A body that is a Buffer can be sent twice; a first unauthenticated
   * attempt with a large body is avoided by asking the scope's authorization with a cheap GET first.
   */
  private async request(method: string, url: string, scope: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Response> {
    const send = (authorization?: string) =>
      fetch(url.startsWith('http') ? url : `${this.base}${url}`, {
        method,
        headers: { ...init.headers, ...(authorization ? { authorization } : {}) },
        ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : new Uint8Array(init.body) } : {}),
        redirect: 'follow',
      });
    let res = await send(this.authorizations.get(scope));
    if (res.status !== 401) return res;
    await res.body?.cancel();
    const authorization = await this.answer(challengeOf(res.headers.get('www-authenticate')), scope);
    if (!authorization) throw new RegistryError(`registry ${this.opts.endpoint} asks for credentials${this.opts.credentials ? ' and refused the ones given' : ''}`, 401);
    this.authorizations.set(scope, authorization);
    res = await send(authorization);
    if (res.status === 401) {
      await res.body?.cancel();
      throw new RegistryError(`registry ${this.opts.endpoint} refused the credentials for ${scope}`, 401);
    }
    return res;
  }

  private async answer(challenge: { scheme: string; params: Record<string, string> } | undefined, scope: string): Promise<string | undefined> {
    const creds = this.opts.credentials;
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (!challenge || challenge.scheme === 'basic') return basic;
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) return undefined;
    const url = new URL(challenge.params.realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const one of scope.split(' ')) url.searchParams.append('scope', one);
    const res = await fetch(url, { headers: basic ? { authorization: basic } : {} });
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(`token service of ${this.opts.endpoint} answered ${res.status} for ${scope}`, res.status);
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : undefined;
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = (await res.text().catch(() => '')).slice(0, 300);
    throw new RegistryError(`${what}: registry ${this.opts.endpoint} answered ${res.status}${text ? ` ${text}` : ''}`, res.status);
  }

  /** The manifest (or index) at a tag or digest, with its media type and digest. */
  async manifest(repository: string, reference: string): Promise<{ mediaType: string; digest: string; body: Buffer }> {
    const res = await this.request('GET', `/${repository}/manifests/${reference}`, `repository:${repository}:pull`, { headers: { accept: ACCEPT } });
    if (!res.ok) return this.fail(res, `manifest ${repository}:${reference}`);
    const body = Buffer.from(await res.arrayBuffer());
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim() || (JSON.parse(body.toString()).mediaType as string);
    return { mediaType, digest: sha256(body), body };
  }

  async blob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/${repository}/blobs/${digest}`, `repository:${repository}:pull`);
    if (!res.ok) return this.fail(res, `blob ${digest} of ${repository}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (sha256(body) !== digest) throw new RegistryError(`blob ${digest} of ${repository} arrived with another digest`);
    return body;
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/${repository}/blobs/${digest}`, `repository:${repository}:pull,push`);
    await res.body?.cancel();
    return res.ok;
  }

  /** Asks the registry to link a blob another repository of it holds; false when it would rather have it uploaded. */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const res = await this.request('POST', `/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, `repository:${repository}:pull,push repository:${from}:pull`);
    await res.body?.cancel();
    if (res.status === 201) return true;
    // 202: an upload session was opened instead (it expires unused).
    return false;
  }

  /** Uploads a blob unless the repository has it already. */
  async pushBlob(repository: string, data: Buffer, digest = sha256(data)): Promise<string> {
    const scope = `repository:${repository}:pull,push`;
    if (await this.hasBlob(repository, digest)) return digest;
    const started = await this.request('POST', `/${repository}/blobs/uploads/`, scope, {});
    if (started.status !== 202) return this.fail(started, `upload of ${digest} to ${repository}`);
    await started.body?.cancel();
    const location = new URL(started.headers.get('location') ?? '', `${this.base}/`);
    location.searchParams.set('digest', digest);
    const put = await this.request('PUT', location.toString(), scope, { headers: { 'content-type': 'application/octet-stream' }, body: data });
    if (put.status !== 201) return this.fail(put, `upload of ${digest} to ${repository}`);
    await put.body?.cancel();
    return digest;
  }

  async putManifest(repository: string, reference: string, mediaType: string, body: Buffer): Promise<string> {
    const res = await this.request('PUT', `/${repository}/manifests/${reference}`, `repository:${repository}:pull,push`, { headers: { 'content-type': mediaType }, body });
    if (res.status !== 201) return this.fail(res, `manifest ${repository}:${reference}`);
    await res.body?.cancel();
    return sha256(body);
  }
}
