/**
 * The certificates HAProxy serves on the TLS port: the crt-list it loads, written for the certificate files
 * in `<dataDir>/tls/` (the self-signed one and the user's, see ../tls/certificates.ts). HAProxy reads the
 * list and the files when it loads its configuration, so a change is served after the next reload.
 */
import { certificateSignature, ensureSelfSigned, loadCertificates, unclaimedSelfSignedNames } from '../tls/certificates.ts';
import { renderCrtList } from './config.ts';
import { writeAtomic } from './structure.ts';

export interface CrtListOptions {
  dataDir: string;
  /** Base domain: the self-signed certificate is for `*.<domain>` and `<domain>`. */
  domain?: string;
  /** the crt-list file (RouterFiles.crtList) */
  file: string;
  logger?: { warn(o: object, m: string): void };
}

export class CrtList {
  private selfSignedFile = '';
  /** The crt-list HAProxy loaded and the certificate files' signature it came from. */
  applied = '';
  private signature = '';

  constructor(private readonly opts: CrtListOptions) {}

  /** Makes the self-signed certificate when it is missing. */
  async ensureSelfSigned(): Promise<void> {
    this.selfSignedFile = await ensureSelfSigned(this.opts.dataDir, this.opts.domain!);
  }

  private certificateSet() {
    return loadCertificates(this.opts.dataDir, this.selfSignedFile, (file, err) => this.opts.logger?.warn({ file, err: err.message }, 'TLS certificate ignored'));
  }

  /** Whether the certificate files changed since the crt-list was written (their names, sizes and times). */
  moved(): boolean {
    return certificateSignature(this.opts.dataDir, this.selfSignedFile) !== this.signature;
  }

  /** Writes the crt-list for the certificates on disk now; returns whether it changed. */
  write(): boolean {
    const set = this.certificateSet();
    this.signature = set.signature;
    const list = renderCrtList({ file: set.selfSigned.file, unclaimed: unclaimedSelfSignedNames(set) }, set.user);
    // Reloaded certificate files count as a change even with the same names: HAProxy reads them at reload.
    const content = `# ${set.signature}\n${list}`;
    if (content === this.applied) return false;
    writeAtomic(this.opts.file, content);
    this.applied = content;
    return true;
  }
}
