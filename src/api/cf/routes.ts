/**
 * The Cloud Foundry `/v3` face: one default organization, spaces (projects), apps (combined services that
 * run the droplet pinned as current), packages of `bits`, builds and droplets, the web process, deployments
 * (rollouts) and revisions (releases). A thin translation onto the same services layer as `/v1`.
 */
import type { Api, ApiDeps } from '../deps.ts';
import { cfLookups } from './context.ts';
import { registerCfRoot } from './root.ts';
import { registerCfSpaces } from './spaces.ts';
import { registerCfApps } from './apps.ts';
import { registerCfStaging } from './staging.ts';
import { registerCfProcesses } from './processes.ts';
import { registerCfDeployments } from './deployments.ts';
import { registerCfRevisions } from './revisions.ts';

export function registerCf(app: Api, deps: ApiDeps): void {
  const cx = cfLookups(deps);
  registerCfRoot(app, cx);
  registerCfSpaces(app, deps, cx);
  registerCfApps(app, deps, cx);
  registerCfStaging(app, deps, cx);
  registerCfProcesses(app, deps, cx);
  registerCfDeployments(app, deps, cx);
  registerCfRevisions(app, deps, cx);
}
