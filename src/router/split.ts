/**
 * A canary's traffic split, as both data planes carry it: the share of requests that go to the new release
 * is expressed as endpoint weights, whatever the instance counts (4 old and 1 new at 5 % is weights 256 and
 * 54, not 1 and 1), so HAProxy takes a new split through the Runtime API (`set server … weight`, no
 * reload) and the built-in router through its smooth weighted round robin. A consistent-hash route hashes
 * with the same weights, so a client keeps reaching the same release while the split holds (sticky).
 *
 * Pins send the requests that carry a header value or a cookie to the new release whatever the share.
 */

/** HAProxy's largest server weight; the built-in router uses the same integers, so both planes split alike. */
export const MAX_SPLIT_WEIGHT = 256;

import { PIN_VALUE as PIN_VALUE_RULE, TOKEN, type Pin } from '../domain/canary.ts';

/** A request carrying `header: value` (header names are case-insensitive) or the cookie `cookie=value`. */
export type { Pin };

/** The canary part of a route (see `Route.canary`). */
export interface RouteCanary {
  /** endpoint ids of the new release */
  endpointIds: string[];
  /** the share asked for, 0-100 */
  percent: number;
  /** the share the integer weights give (what the router actually does), 0-100 */
  effectivePercent: number;
  pins?: Pin[];
}

/** RFC 9110 token: what a header name may be. */
export const HEADER_NAME = TOKEN;
/** RFC 6265 cookie-name (a token); also safe inside an HAProxy ACL argument. */
export const COOKIE_NAME = TOKEN;
/** Values are matched exactly; kept to characters that need no quoting in a header, a cookie or HAProxy's configuration. */
export const PIN_VALUE = PIN_VALUE_RULE;

export interface SplitWeights {
  stableWeight: number;
  canaryWeight: number;
  effectivePercent: number;
}

/**
 * Integer weights (0-256) for `stable` old endpoints and `canary` new ones so that the new release gets as
 * close to `percent` of the requests as integers allow: share = c·wc / (c·wc + s·ws). 0 % and 100 % are
 * exact (weight 0 drains); between them the search takes the pair with the smallest error, the largest
 * weights on a tie (finer steps later). With no endpoint on one side, the other takes everything.
 */
export function splitWeights(percent: number, stable: number, canary: number): SplitWeights {
  if (canary === 0) return { stableWeight: 1, canaryWeight: 0, effectivePercent: 0 };
  if (stable === 0) return { stableWeight: 0, canaryWeight: 1, effectivePercent: 100 };
  if (percent <= 0) return { stableWeight: 1, canaryWeight: 0, effectivePercent: 0 };
  if (percent >= 100) return { stableWeight: 0, canaryWeight: 1, effectivePercent: 100 };
  const p = percent / 100;
  let best = { stableWeight: 1, canaryWeight: 1, err: Infinity };
  for (let ws = MAX_SPLIT_WEIGHT; ws >= 1; ws--) {
    // For this stable weight the ideal canary weight solves c·wc = p/(1-p)·s·ws; try its two neighbours.
    const ideal = ((p / (1 - p)) * stable * ws) / canary;
    for (const wc of [Math.floor(ideal), Math.ceil(ideal)]) {
      if (wc < 1 || wc > MAX_SPLIT_WEIGHT) continue;
      const err = Math.abs((canary * wc) / (canary * wc + stable * ws) - p);
      if (err < best.err - 1e-12) best = { stableWeight: ws, canaryWeight: wc, err };
    }
  }
  if (!Number.isFinite(best.err)) {
    // Even weights 1 and 256 cannot make the share small (or large) enough: the extreme pair.
    best = p < 0.5 ? { stableWeight: MAX_SPLIT_WEIGHT, canaryWeight: 1, err: 0 } : { stableWeight: 1, canaryWeight: MAX_SPLIT_WEIGHT, err: 0 };
  }
  const share = (canary * best.canaryWeight) / (canary * best.canaryWeight + stable * best.stableWeight);
  return { stableWeight: best.stableWeight, canaryWeight: best.canaryWeight, effectivePercent: Math.round(share * 100_000) / 1000 };
}

/** Whether a request's headers (lower-case names) carry one of the pins. */
export function matchesPin(pins: Pin[] | undefined, header: (name: string) => string | undefined): boolean {
  if (!pins?.length) return false;
  for (const pin of pins) {
    if ('header' in pin) {
      if (header(pin.header.toLowerCase()) === pin.value) return true;
    } else {
      const cookies = header('cookie');
      if (cookies && cookieValue(cookies, pin.cookie) === pin.value) return true;
    }
  }
  return false;
}

function cookieValue(cookieHeader: string, name: string): string | undefined {
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
