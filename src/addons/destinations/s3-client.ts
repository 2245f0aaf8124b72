/**
 * The few S3 calls backups need (PUT, GET, DELETE of one object; a bucket check), signed with AWS
 * Signature V4 by `aws4`, path-style (`<endpoint>/<bucket>/<key>`), so any S3-compatible endpoint works.
 * Bodies are streamed (`x-amz-content-sha256: UNSIGNED-PAYLOAD`): a dump is never held in memory. Errors
 * carry the endpoint's S3 error code and message, never a credential.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import aws4 from 'aws4';

export interface S3Location {
  /** `host[:port]` (https) or a full `http(s)://host[:port]` URL */
  endpoint: string;
  region: string;
  bucketName: string;
  accessKey: string;
  secretKey: string;
}

export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** The endpoint as a URL: a bare host means https, as AWS's own endpoints are. */
export function endpointUrl(endpoint: string): URL {
  return new URL(/^https?:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`);
}

/** An object key as it goes in a path: each segment percent-encoded as S3 signs it. */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

export class S3Client {
  private readonly base: URL;

  constructor(private readonly loc: S3Location) {
    this.base = endpointUrl(loc.endpoint);
  }

  private request(method: string, key: string | undefined, opts: { body?: Readable; length?: number; query?: string } = {}): Promise<http.IncomingMessage> {
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const path = `${basePath}/${encodeURIComponent(this.loc.bucketName)}${key !== undefined ? `/${encodeKey(key)}` : ''}${opts.query ? `?${opts.query}` : ''}`;
    const headers: Record<string, string> = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    if (opts.length !== undefined) headers['content-length'] = String(opts.length);
    const signed = aws4.sign({ host: this.base.host, path, method, service: 's3', region: this.loc.region, headers }, { accessKeyId: this.loc.accessKey, secretAccessKey: this.loc.secretKey });
    const lib = this.base.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = lib.request({ protocol: this.base.protocol, hostname: this.base.hostname, port: this.base.port || undefined, method, path, headers: signed.headers as Record<string, string>, timeout: 60_000 }, resolve);
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.base.host} within 60 s`)));
      req.on('error', (e) => reject(new Error(`S3 ${method} to ${this.base.host} failed: ${e.message}`)));
      if (opts.body) {
        opts.body.on('error', (e) => req.destroy(e));
        opts.body.pipe(req);
      } else req.end();
    });
  }

  /** Read an error answer into an S3Error (its XML Code and Message). */
  private async fail(res: http.IncomingMessage, what: string): Promise<never> {
    let text = '';
    for await (const c of res) if (text.length < 8192) text += String(c);
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP ${res.statusCode}`;
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';
    throw new S3Error(res.statusCode ?? 0, code, `${what}: ${code}${message ? ` (${message})` : ''}`);
  }

  /** Upload a file as one object. */
  async putFile(key: string, file: string): Promise<void> {
    const { size } = fs.statSync(file);
    const res = await this.request('PUT', key, { body: fs.createReadStream(file), length: size });
    if ((res.statusCode ?? 0) >= 300) return this.fail(res, `upload of ${key} to bucket ${this.loc.bucketName}`);
    res.resume();
  }

  /** The object as a stream (the caller consumes it). */
  async get(key: string): Promise<{ body: Readable; length?: number }> {
    const res = await this.request('GET', key);
    if ((res.statusCode ?? 0) >= 300) return this.fail(res, `download of ${key} from bucket ${this.loc.bucketName}`);
    const length = res.headers['content-length'] ? Number(res.headers['content-length']) : undefined;
    return { body: res, ...(length !== undefined ? { length } : {}) };
  }

  /** Download an object into a file (mode 0600). */
  async getFile(key: string, file: string): Promise<void> {
    const { body } = await this.get(key);
    await pipeline(body, fs.createWriteStream(file, { mode: 0o600 }));
  }

  /** Delete an object; a missing one is already gone. */
  async delete(key: string): Promise<void> {
    const res = await this.request('DELETE', key);
    if ((res.statusCode ?? 0) >= 300 && res.statusCode !== 404) return this.fail(res, `deletion of ${key} from bucket ${this.loc.bucketName}`);
    res.resume();
  }

  /** Whether the bucket answers to these credentials (a listing of at most one key). */
  async checkBucket(): Promise<void> {
    const res = await this.request('GET', undefined, { query: 'list-type=2&max-keys=1' });
    if ((res.statusCode ?? 0) >= 300) return this.fail(res, `bucket ${this.loc.bucketName} at ${this.base.host}`);
    res.resume();
  }
}
