/**
 * Why an image pull (or a registry access check) failed, in words a user can act on, and whether trying
 * again can help. The engine's own message is kept: it is what names the registry, the tag, the address.
 *
 * Terminal (the same pull fails the same way until someone changes something): a plain-HTTP registry the
 * engine is not told is insecure, an untrusted certificate, refused credentials, an unknown image or tag,
 * an unknown host. Transient (the registry may be starting, restarting or busy): a refused or reset
 * connection, a timeout, a rate limit, a server error; and anything not recognised, which is retried.
 */
import { ImagePullError } from '../driver.ts';

export type PullFailureKind = 'insecure-registry' | 'untrusted-certificate' | 'unauthorized' | 'not-found' | 'unknown-host' | 'unreachable' | 'other';

export interface PullFailure {
  kind: PullFailureKind;
  terminal: boolean;
  /** what went wrong, for a person: "the registry refused the credentials" */
  why: string;
}

const RULES: { kind: PullFailureKind; test: RegExp; terminal: boolean }[] = [
  // Checked first: these messages also carry words of the later rules ("https", "tls", "timeout").
  { kind: 'insecure-registry', test: /server gave HTTP response to HTTPS client|wrong version number|plain HTTP|EPROTO|packet length too long/i, terminal: true },
  { kind: 'unauthorized', test: /unauthori[sz]ed|authentication required|access denied|denied|forbidden|incorrect username or password|\b40[13]\b/i, terminal: true },
  { kind: 'not-found', test: /manifest unknown|name unknown|not found|does not exist|\b404\b/i, terminal: true },
  { kind: 'unknown-host', test: /no such host|ENOTFOUND|Name or service not known/i, terminal: true },
  { kind: 'unreachable', test: /connection refused|ECONNREFUSED|connection reset|ECONNRESET|timeout|timed out|ETIMEDOUT|EOF|network is unreachable|no route to host|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|server misbehaving|too ?many ?requests|\b429\b|\b50[234]\b|service unavailable|bad gateway/i, terminal: false },
  { kind: 'untrusted-certificate', test: /x509|certificate|tls:|SSL|self.signed/i, terminal: true },
];

export function classifyPullFailure(text: string, hasCredentials: boolean): PullFailure {
  const rule = RULES.find((r) => r.test.test(text));
  const kind = rule?.kind ?? 'other';
  return { kind, terminal: rule?.terminal ?? false, why: WHY[kind](hasCredentials) };
}

const WHY: Record<PullFailureKind, (hasCredentials: boolean) => string> = {
  'insecure-registry': () => 'the registry speaks plain HTTP and the container engine is not told it is insecure (add it to the engine\'s insecure registries, or serve it over HTTPS)',
  'untrusted-certificate': () => 'the container engine does not trust the registry\'s TLS certificate',
  unauthorized: (creds) => (creds ? 'the registry refused the credentials' : 'the registry requires credentials and the deployment names none'),
  'not-found': () => 'the registry has no such image or tag',
  'unknown-host': () => 'the registry host is unknown',
  unreachable: () => 'the registry could not be reached (retrying)',
  other: () => 'the pull failed',
};

/**
 * A failed pull as an ImagePullError: the reason, then the engine's words on one line, with the password
 * cut out wherever it might appear.
 */
export function pullError(image: string, engineText: string, auth: { password: string } | undefined): ImagePullError {
  let text = engineText.replace(/\s+/g, ' ').trim().slice(0, 600);
  if (auth?.password) text = text.split(auth.password).join('***');
  const failure = classifyPullFailure(text, auth !== undefined);
  return new ImagePullError(image, `${failure.why}: ${text}`, failure.terminal);
}
