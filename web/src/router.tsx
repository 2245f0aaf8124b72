/**
 * A tiny client router over the History API. Every route lives under /ui/, and the server answers any
 * /ui/* path with index.html, so a reload or a shared link opens the same screen.
 */
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';
import { parseManage, type ManageRoute } from './screens/manage/routes.ts';

export const BASE = '/ui';

export type Route =
  | { name: 'projects' }
  | { name: 'project'; project: string }
  | { name: 'service'; project: string; service: string }
  | { name: 'addon'; project: string; addon: string }
  | ManageRoute
  | { name: 'pipeline'; project: string; pipeline: string }
  | { name: 'log-sinks' }
  | { name: 'notifications' }
  | { name: 'not-found'; path: string };

export function parse(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'projects' };
  if (parts.length === 1 && parts[0] === 'log-sinks') return { name: 'log-sinks' };
  if (parts.length === 1 && parts[0] === 'notifications') return { name: 'notifications' };
  if (parts[0] === 'projects' && parts.length === 2) return { name: 'project', project: parts[1] };
  if (parts[0] === 'projects' && parts[2] === 'services' && parts.length === 4) return { name: 'service', project: parts[1], service: parts[3] };
  if (parts[0] === 'projects' && parts[2] === 'addons' && parts.length === 4) return { name: 'addon', project: parts[1], addon: parts[3] };
  if (parts[0] === 'projects' && parts[2] === 'pipelines' && parts.length === 4) return { name: 'pipeline', project: parts[1], pipeline: parts[3] };
  return parseManage(parts) ?? { name: 'not-found', path: pathname };
}

export const href = {
  projects: () => `${BASE}/`,
  project: (p: string) => `${BASE}/projects/${encodeURIComponent(p)}`,
  service: (p: string, s: string) => `${BASE}/projects/${encodeURIComponent(p)}/services/${encodeURIComponent(s)}`,
  addon: (p: string, a: string) => `${BASE}/projects/${encodeURIComponent(p)}/addons/${encodeURIComponent(a)}`,
  pipeline: (p: string, pl: string) => `${BASE}/projects/${encodeURIComponent(p)}/pipelines/${encodeURIComponent(pl)}`,
  logSinks: () => `${BASE}/log-sinks`,
  notifications: () => `${BASE}/notifications`,
};

export function navigate(to: string): void {
  if (to === location.pathname) return;
  history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parse(location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return route;
}

/** An ordinary link (keyboard, middle-click, copy address all work) that navigates in place. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={onClick} {...rest} />;
}
