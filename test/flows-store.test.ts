/**
 * Release flow runs in the store, on SQLite and PostgreSQL: node states written with a version check (a stale
 * writer loses and reads again), and the runner's start after a control-plane kill, which fails a node left
 * `running` without the id of its action (whether the action happened cannot be confirmed) and keeps one whose
 * action it can still follow.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { SUPPORTED_DATABASES, openTestStore } from './support/databases.ts';
import { FlowsService } from '../src/flows/flows-service.ts';
import { FlowRunner } from '../src/flows/runner.ts';
import { AuthService } from '../src/services/auth.ts';
import type { NodeState } from '../src/flows/flows-repo.ts';

const node = (path: string, extra: Partial<NodeState> = {}): NodeState => ({ path, kind: 'JobRun', status: 'pending', spec: { jobId: 'migrate' }, after: [], log: [], ...extra });

for (const db of SUPPORTED_DATABASES) {
  describe(`release flow runs in the store (${db})`, () => {
    it('writes node states with a version check, so a stale writer loses', async () => {
      const { store, cleanup } = await openTestStore(db);
      try {
        const flows = new FlowsService(store, new AuthService(store), () => {});
        const made = await flows.repo.createRun({ id: 'run-a', projectId: 'p', pipelineId: 'pl', stage: 'Production', status: 'running', template: {}, inputs: { arguments: {}, overrides: {}, releaseNodeOverrides: {}, trigger: { type: 'manual' }, triggerRefs: {} }, nodes: [node('spec.spec.steps[0]')] });
        assert.equal(made.number, 1);
        const stale = await flows.repo.getRun('run-a');
        await flows.update('run-a', (r) => void (r.nodes[0].status = 'running'));
        stale.nodes[0].status = 'failure';
        await assert.rejects(flows.repo.saveRun(stale), /changed meanwhile/);
        assert.equal((await flows.repo.getRun('run-a')).nodes[0].status, 'running');
        const second = await flows.repo.createRun({ ...made, id: 'run-b', nodes: [] });
        assert.equal(second.number, 2);
      } finally {
        await cleanup();
      }
    });

    it('fails a node left running without its action id after a restart, and keeps one it can follow', async () => {
      const { store, cleanup } = await openTestStore(db);
      try {
        const flows = new FlowsService(store, new AuthService(store), () => {});
        await flows.repo.createRun({
          id: 'run-k',
          projectId: 'p',
          pipelineId: 'pl',
          stage: 'Production',
          status: 'running',
          template: {},
          inputs: { arguments: {}, overrides: {}, releaseNodeOverrides: {}, trigger: { type: 'manual' }, triggerRefs: {} },
          nodes: [node('a', { status: 'running', startedAt: new Date().toISOString() }), node('b', { status: 'running', effect: { jobRunId: 'r1' }, startedAt: new Date().toISOString() })],
        });
        // Only the recovery at start is exercised: the runner is stopped before any pass acts.
        const runner = new FlowRunner({ store, flows, catalog: undefined as never, deploys: undefined as never, builds: undefined as never, jobs: undefined as never, logger: pino({ level: 'silent' }), intervalMs: 60_000 });
        await runner.start();
        await runner.stop();
        const run = await flows.repo.getRun('run-k');
        const [a, b] = run.nodes;
        assert.equal(a.status, 'failure');
        assert.match(a.message!, /cannot be confirmed, so it is not taken again/);
        assert.equal(b.status, 'running', 'a node whose job run id was recorded is followed, not failed');
      } finally {
        await cleanup();
      }
    });
  });
}
