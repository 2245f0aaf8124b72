/**
 * Ask a registry whether a client may pull an image, without pulling it: a manifest HEAD request through
 * the Docker Registry HTTP API v2 with the credentials of the deployment, following the registry's
 * challenge (Basic, or Bearer with a token from its token service). This is what makes a cached image no
 * back door: the engine's copy is used only once the registry says these credentials (or none) may read it,
 * as Kubernetes' AlwaysPullImages does.
 *
 * Plain HTTP is used only for a registry the engine itself treats as insecure (`insecure`), and then only
 * after HTTPS failed, as the engine does; credentials never travel in clear to any other registry.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { ImageReference } from './image-reference.ts';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
].join(', ');

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The registry's answer: access granted, or why not in words the pull-failure rules classify. */
export type AccessAnswer = { granted: true } | { granted: false; text: string };

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull"` taken apart. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  const m = header?.match(/^\s*(\w+)\s*(.*)$/s);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1].toLowerCase(), params };
}

const basic = (c: RegistryCredentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

export class RegistryAccess {
  private readonly verifying: Agent;
  private readonly lenient: Agent;

  constructor(timeoutMs = 15_000) {
    const common = { connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 1000 };
    this.verifying = new Agent(common);
    // An insecure registry's certificate is not checked, as the engine does not check it.
    this.lenient = new Agent({ ...common, connect: { rejectUnauthorized: false } });
  }

  /**
   * Whether `creds` (or no credentials) may pull `ref`. A registry that answers no (401, 403, 404, …) is
   * an answer; a registry that cannot be reached throws, its error naming the address.
   */
  async check(ref: ImageReference, creds: RegistryCredentials | undefined, opts: { insecure: boolean }): Promise<AccessAnswer> {
    const path = `/v2/${ref.repository}/manifests/${ref.reference}`;
    if (!opts.insecure) return this.attempt(`https://${ref.endpoint}${path}`, ref, creds, this.verifying, false);
    try {
      return await this.checkAt(`https://${ref.endpoint}${path}`, ref, creds, this.lenient, true);
    } catch {
      // An insecure registry may speak plain HTTP only: the engine falls back to it, and so does the check.
      return this.attempt(`http://${ref.endpoint}${path}`, ref, creds, this.lenient, true);
    }
  }

  /** One check, a network failure rethrown with the address and the system's words (`connect ECONNREFUSED …`). */
  private async attempt(url: string, ref: ImageReference, creds: RegistryCredentials | undefined, dispatcher: Dispatcher, insecure: boolean): Promise<AccessAnswer> {
    try {
      return await this.checkAt(url, ref, creds, dispatcher, insecure);
    } catch (err) {
      const e = err as Error & { code?: string; cause?: Error & { code?: string } };
      const words = [e.code, e.message, e.cause?.code, e.cause?.message].filter((w, i, all) => w && !all.slice(0, i).some((x) => x?.includes(w)));
      throw new Error(`could not reach ${url}: ${words.join(' ')}`, { cause: err });
    }
  }

  private async checkAt(url: string, ref: ImageReference, creds: RegistryCredentials | undefined, dispatcher: Dispatcher, insecure: boolean): Promise<AccessAnswer> {
    let res = await this.manifest(url, undefined, dispatcher);
    if (res.status === 401) {
      const challenge = parseChallenge(res.challenge);
      let authorization: string | undefined;
      if (challenge?.scheme === 'bearer' && challenge.params.realm) {
        const token = await this.token(challenge.params, ref, creds, dispatcher, insecure);
        if (!token.granted) return token;
        authorization = `Bearer ${token.token}`;
      } else if (challenge?.scheme === 'basic' && creds) {
        authorization = basic(creds);
      } else {
        return { granted: false, text: `${url} answered 401 Unauthorized${creds ? ` with a challenge the check cannot answer (${res.challenge ?? 'none'})` : ': authentication required'}` };
      }
      res = await this.manifest(url, authorization, dispatcher);
    }
    if (res.status >= 200 && res.status < 300) return { granted: true };
    return { granted: false, text: `${url} answered ${res.status}${res.detail ? `: ${res.detail}` : ''}` };
  }

  /** A manifest HEAD; a registry that does not take HEAD (405) gets a GET. */
  private async manifest(url: string, authorization: string | undefined, dispatcher: Dispatcher): Promise<{ status: number; challenge?: string; detail?: string }> {
    const headers: Record<string, string> = { accept: MANIFEST_TYPES, ...(authorization ? { authorization } : {}) };
    let res = await request(url, { method: 'HEAD', headers, dispatcher });
    await res.body.dump();
    let detail: string | undefined;
    if (res.statusCode === 405) {
      res = await request(url, { method: 'GET', headers, dispatcher });
      detail = res.statusCode >= 400 ? registryErrors(await res.body.text().catch(() => '')) : (await res.body.dump(), undefined);
    }
    const challenge = res.headers['www-authenticate'];
    return { status: res.statusCode, challenge: Array.isArray(challenge) ? challenge[0] : challenge, detail: detail ?? STATUS_WORDS[res.statusCode] };
  }

  /** The token flow: the realm, asked for pull access to the repository, with Basic credentials if any. */
  private async token(params: Record<string, string>, ref: ImageReference, creds: RegistryCredentials | undefined, dispatcher: Dispatcher, insecure: boolean): Promise<{ granted: true; token: string } | { granted: false; text: string }> {
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      return { granted: false, text: `the registry names a token service that is not a URL: ${params.realm}` };
    }
    if (realm.protocol !== 'https:' && (realm.protocol !== 'http:' || !insecure)) return { granted: false, text: `the registry's token service ${realm.origin} is not HTTPS, and the registry is not insecure` };
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', `repository:${ref.repository}:pull`);
    const res = await request(realm, { method: 'GET', headers: creds ? { authorization: basic(creds) } : {}, dispatcher });
    const body = await res.body.text().catch(() => '');
    if (res.statusCode !== 200) return { granted: false, text: `the token service ${realm.origin}${realm.pathname} answered ${res.statusCode}: ${registryErrors(body) ?? STATUS_WORDS[res.statusCode] ?? ''}` };
    let token: string | undefined;
    try {
      const json = JSON.parse(body) as { token?: string; access_token?: string };
      token = json.token ?? json.access_token;
    } catch {}
    return token ? { granted: true, token } : { granted: false, text: `the token service ${realm.origin}${realm.pathname} answered without a token` };
  }

  async close(): Promise<void> {
    await Promise.all([this.verifying.close(), this.lenient.close()]);
  }
}

const STATUS_WORDS: Record<number, string> = {
  401: 'unauthorized',
  403: 'denied',
  404: 'manifest unknown',
  429: 'too many requests',
  500: 'server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

/** The registry's error body (`{"errors":[{"code":"UNAUTHORIZED","message":"…"}]}`) in a few words. */
function registryErrors(body: string): string | undefined {
  try {
    const errors = (JSON.parse(body) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
    const words = errors.map((e) => [e.code?.toLowerCase().replace(/_/g, ' '), e.message].filter(Boolean).join(': ')).join('; ');
    return words || undefined;
  } catch {
    return body.trim().slice(0, 200) || undefined;
  }
}
