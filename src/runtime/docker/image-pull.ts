/**
 * Images for the docker runtime: pulled when the engine lacks them, with the pull's progress in a few
 * lines and every failure in words (see pull-failure.ts); and, when the engine has a deployment's image
 * already, used only once the registry confirms the deployment's credentials (or none) may pull it, so an
 * image one project pulled with its credentials never runs for a deployment the registry would refuse.
 *
 * A confirmation is remembered per image (name and engine image id) and credentials (an HMAC of them
 * under a key of this process, never the credentials themselves) for PROOF_FRESH_MS; a pull with the
 * credentials counts as one. Past that the registry is asked again, and if it cannot be reached then, a
 * confirmation once given still stands: a registry outage must not stop restarts of what ran.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type Docker from 'dockerode';
import { ImagePullError, type InstanceSpec } from '../driver.ts';
import { isLocalOnly, parseImageReference, type ImageReference } from './image-reference.ts';
import { classifyPullFailure, pullError } from './pull-failure.ts';
import { RegistryAccess } from './registry-access.ts';

/** Pull progress is a handful of lines per pull, never one per chunk: at most this many distinct ones. */
const MAX_PULL_PROGRESS_LINES = 40;
const PROOF_FRESH_MS = 10 * 60_000;
/** Remembered (image, credentials) confirmations; the oldest go first past this many. */
const MAX_PROOFS = 2000;

type RegistryAuth = InstanceSpec['registryAuth'];

export interface EnsureImageOptions {
  auth?: RegistryAuth;
  /**
   * The image is the deployment's (not the platform's own artifact image): a copy the engine holds is used
   * only once the registry confirms `auth` (or no credentials) may pull it.
   */
  confirmAccess: boolean;
  onProgress?: (line: string) => void;
}

interface PullEvent {
  status?: string;
  stream?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

interface Logger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number })?.statusCode;

function errorText(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}

export class ImagePuller {
  private readonly registry = new RegistryAccess();
  private readonly proofKey = crypto.randomBytes(32);
  /** `${image}\0${imageId}\0${credentials}` → when the registry (or a pull) last confirmed access */
  private readonly proofs = new Map<string, number>();

  constructor(
    private readonly docker: Docker,
    private readonly logger?: Logger,
  ) {}

  /** Make the engine hold `image`, pulling it if needed; throws an ImagePullError that says why not. */
  async ensure(image: string, opts: EnsureImageOptions): Promise<void> {
    const seen = new Set<string>();
    const report = (line: string) => {
      if (!opts.onProgress || seen.has(line) || seen.size >= MAX_PULL_PROGRESS_LINES) return;
      seen.add(line);
      try {
        opts.onProgress(line);
      } catch {}
    };
    const cached = await this.imageId(image);
    if (cached === undefined) {
      await this.pull(image, opts.auth, report);
      if (opts.confirmAccess) {
        const id = await this.imageId(image);
        if (id) this.remember(image, id, opts.auth);
      }
      return;
    }
    if (!opts.confirmAccess) return;
    const ref = parseImageReference(image);
    if (isLocalOnly(ref)) return;
    await this.confirmAccess(image, ref, cached, opts.auth, report);
  }

  private async imageId(image: string): Promise<string | undefined> {
    try {
      return (await this.docker.getImage(image).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Pull with progress to `report` ("pulling <image>: <status> <layer>", each distinct status of each
   * layer once, byte counters dropped). Any failure is an ImagePullError with the engine's message.
   */
  private async pull(image: string, auth: RegistryAuth, report: (line: string) => void): Promise<void> {
    this.logger?.info({ image }, 'pulling image');
    report(`pulling ${image}${auth ? ` as '${auth.username}'` : ''}`);
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.pull(image, auth ? { authconfig: auth } : {});
    } catch (err) {
      throw this.failed(image, errorText(err), auth);
    }
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (err: Error | null, events: PullEvent[]) => {
          const failed = events?.find((e) => e.error || e.errorDetail);
          if (err) reject(this.failed(image, errorText(err), auth));
          else if (failed) reject(this.failed(image, failed.errorDetail?.message ?? failed.error ?? 'unknown error', auth));
          else resolve();
        },
        (e: PullEvent) => {
          // Podman sends its own words ("Trying to pull …", "Writing manifest …") as `stream` lines.
          const status = (e.status ?? e.stream ?? '').trim();
          if (!status || e.error || e.errorDetail) return;
          report(`pulling ${image}: ${status}${e.id && !status.includes(e.id) ? ` ${e.id}` : ''}`);
        },
      );
    });
    report(`pulled ${image}`);
  }

  private failed(image: string, engineText: string, auth: RegistryAuth): ImagePullError {
    const err = pullError(image, engineText, auth);
    this.logger?.warn({ image, terminal: err.terminal, reason: err.reason }, 'image pull failed');
    return err;
  }

  /** The registry's consent to use the engine's copy of `image` with `auth` (or none); see the file's comment. */
  private async confirmAccess(image: string, ref: ImageReference, imageId: string, auth: RegistryAuth, report: (line: string) => void): Promise<void> {
    const key = this.proofKeyOf(image, imageId, auth);
    const provenAt = this.proofs.get(key);
    if (provenAt !== undefined && Date.now() - provenAt < PROOF_FRESH_MS) return;
    const who = auth ? `'${auth.username}'` : 'a client without credentials';
    report(`the engine has ${image}: asking ${ref.registry} whether ${who} may pull it`);
    let text: string;
    try {
      const answer = await this.registry.check(ref, auth, { insecure: await this.isInsecure(ref.registry) });
      if (answer.granted) {
        this.remember(image, imageId, auth);
        report(`${ref.registry} lets ${who} pull ${image}: using the engine's copy`);
        return;
      }
      text = answer.text;
    } catch (err) {
      text = (err as Error).message;
    }
    if (auth?.password) text = text.split(auth.password).join('***');
    const failure = classifyPullFailure(text, auth !== undefined);
    if (!failure.terminal && provenAt !== undefined) {
      report(`${ref.registry} could not be asked (${text}); ${who} was allowed to pull ${image} before: using the engine's copy`);
      return;
    }
    this.logger?.warn({ image, terminal: failure.terminal, reason: text }, 'the registry did not confirm access to a cached image');
    throw new ImagePullError(image, `${failure.why}; the engine's cached copy is not used without the registry's consent: ${text}`, failure.terminal);
  }

  private proofKeyOf(image: string, imageId: string, auth: RegistryAuth): string {
    const who = auth ? crypto.createHmac('sha256', this.proofKey).update(JSON.stringify([auth.serveraddress, auth.username, auth.password])).digest('base64url') : 'anonymous';
    return `${image}\0${imageId}\0${who}`;
  }

  private remember(image: string, imageId: string, auth: RegistryAuth): void {
    const key = this.proofKeyOf(image, imageId, auth);
    this.proofs.delete(key);
    this.proofs.set(key, Date.now());
    for (const old of this.proofs.keys()) {
      if (this.proofs.size <= MAX_PROOFS) break;
      this.proofs.delete(old);
    }
  }

  /**
   * Whether the engine treats a registry as insecure (plain HTTP allowed, certificate unchecked): named in
   * its insecure registries (`IndexConfigs[…].Secure: false`, which Podman reports from registries.conf),
   * or an IP address inside its insecure CIDRs (Docker's default holds 127.0.0.0/8).
   */
  private async isInsecure(registry: string): Promise<boolean> {
    const info = (await this.docker.info()) as { RegistryConfig?: { IndexConfigs?: Record<string, { Secure?: boolean }>; InsecureRegistryCIDRs?: string[] } };
    const config = info.RegistryConfig ?? {};
    if (config.IndexConfigs?.[registry]?.Secure === false) return true;
    // Docker checks the registry's resolved addresses; here IP literals, and `localhost` as loopback.
    const named = registry.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    const host = named === 'localhost' ? '127.0.0.1' : named;
    const family = net.isIP(host);
    if (!family) return false;
    const list = new net.BlockList();
    for (const cidr of config.InsecureRegistryCIDRs ?? []) {
      const [addr, bits] = cidr.split('/');
      const f = net.isIP(addr);
      if (f && bits !== undefined) list.addSubnet(addr, Number(bits), f === 6 ? 'ipv6' : 'ipv4');
    }
    return list.check(host, family === 6 ? 'ipv6' : 'ipv4');
  }

  async close(): Promise<void> {
    await this.registry.close();
  }
}
