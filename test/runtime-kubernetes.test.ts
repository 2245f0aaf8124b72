/**
 * The kubernetes driver against the shared conformance suite and the platform's rollouts on it, on a real
 * cluster named by SLIPWAY_TEST_KUBECONFIG (scripts/local-kubernetes.sh starts a single-node one and prints
 * the environment), with the registry its node pulls from in SLIPWAY_TEST_REGISTRY. Without a cluster every
 * case is reported as skipped by name.
 *
 * No registry outside is reachable: the images are pushed here through the registry API, the conformance
 * image as the fixture app layered on a busybox base (the same code that turns build artifacts into images).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDriverConformance } from '../src/runtime/conformance.ts';
import { ImagePullError } from '../src/runtime/driver.ts';
import { KubernetesDriver } from '../src/runtime/kubernetes/kubernetes-driver.ts';
import { Cluster } from '../src/runtime/kubernetes/cluster.ts';
import { pushArtifactImage } from '../src/builds/oci-image.ts';
import { ROOT, api, fixtureRepo, routerLoad, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { pushBusyboxImage, pushNodeImage } from './support/registry-images.ts';
import { startRegistry } from './support/registry.ts';

const KUBECONFIG = process.env.SLIPWAY_TEST_KUBECONFIG;
const REGISTRY = process.env.SLIPWAY_TEST_REGISTRY;
/** a cluster without a scheduler: Pods are bound to this node (scripts/local-kubernetes.sh prints it then) */
const NODE = process.env.SLIPWAY_TEST_KUBERNETES_NODE;
const onNode = NODE ? { nodeName: NODE } : {};
const CASES = [
  'runtime driver conformance: kubernetes',
  'kubernetes driver: Secrets, labels, limits, logs, refused images, registry credentials, volume claims, artifact images',
  'SLIPWAY_RUNTIME=kubernetes: a service built from source rolls out (rolling, then canary) through the router with no failed request',
];

if (!KUBECONFIG) {
  const why = 'SLIPWAY_TEST_KUBECONFIG names no cluster: start one with scripts/local-kubernetes.sh start (docs/runtimes.md)';
  for (const name of CASES) it(name, { skip: why }, () => {});
} else {
  if (!REGISTRY) throw new Error('SLIPWAY_TEST_REGISTRY must name the registry the cluster pulls from (scripts/local-kubernetes.sh prints it)');
  const cluster = new Cluster({ kubeconfig: KUBECONFIG });
  const run = process.pid.toString(36);
  const fixtureApp = path.join(ROOT, 'test/fixtures/images/conformance/app');
  const busybox = await pushBusyboxImage(REGISTRY, 'slipway-test/busybox', 'conformance');
  const image = await pushArtifactImage({ artifactDir: fixtureApp, baseImage: busybox, target: `${REGISTRY}/slipway-test/conformance` });
  console.log(`conformance image ${image}`);

  /** Pods outlive the control plane by design: remove what a scope left (its Pods and their Secrets). */
  const removeScope = async (selector: string) => {
    for (const pod of (await cluster.core.listPodForAllNamespaces({ labelSelector: selector })).items) {
      await cluster.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0 }).catch(() => {});
    }
    for (const s of (await cluster.core.listSecretForAllNamespaces({ labelSelector: selector })).items) {
      await cluster.core.deleteNamespacedSecret({ name: s.metadata!.name!, namespace: s.metadata!.namespace! }).catch(() => {});
    }
  };

  runDriverConformance('kubernetes', (stateDir) => new KubernetesDriver({ stateDir, kubeconfig: KUBECONFIG, scope: `conf-${run}`, ...onNode }), {
    artifactDir: fixtureApp,
    image,
    appCommand: 'sh /app/app.sh',
    portInside: 'internal',
    skip: {
      'captures stdout and stderr lines with timestamps':
        'the pod log API merges a container’s stdout and stderr into one stream (split streams are an alpha feature of later Kubernetes releases); the driver reports every line as stdout — see the kubernetes driver case below',
    },
  });

  describe('kubernetes driver', () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-k8s-'));
    const scope = `drv-${run}`;
    const driver = new KubernetesDriver({ stateDir, kubeconfig: KUBECONFIG, scope, ...onNode, imageOfArtifact: (dir, labels) => pushArtifactImage({ artifactDir: dir, baseImage: busybox, target: `${REGISTRY}/slipway-test/${labels.project}-${labels.service}` }) });
    const labels = { project: 'kdrv', service: 'svc', release: 'r1', processType: 'web' };
    let seq = 0;
    const id = () => `kdrv--svc--web-r1-${seq++}-${run}`;
    after(async () => {
      await driver.close();
      await removeScope(`slipway.dev/scope=${scope}`);
      fs.rmSync(stateDir, { recursive: true, force: true });
    });

    it('keeps the environment and files in a Secret the Pod owns, labels the Pod, and applies the plan as its limits', async () => {
      const inst = await driver.start({ id: id(), labels, image, command: ['/bin/sh', '-c', 'exec sh /app/app.sh'], env: { TOKEN: 'tok-123' }, files: [{ path: '/etc/app/token', content: Buffer.from('file-secret') }], ports: [{ name: 'p01', internalPort: 8080 }], memoryMb: 64, cpu: 0.25 });
      const pod = await cluster.core.readNamespacedPod({ name: inst.id, namespace: 'slipway-kdrv' });
      assert.equal(pod.metadata!.labels!['slipway.dev/scope'], scope);
      assert.equal(pod.metadata!.labels!['slipway.dev/service'], 'svc');
      assert.ok(!JSON.stringify(pod).includes('tok-123') && !JSON.stringify(pod).includes('file-secret'), 'no secret in the Pod object');
      assert.deepEqual(pod.spec!.containers[0].resources!.limits, { memory: '64Mi', cpu: '250m' });
      const secret = await cluster.core.readNamespacedSecret({ name: inst.id, namespace: 'slipway-kdrv' });
      assert.equal(secret.metadata!.ownerReferences?.[0]?.uid, pod.metadata!.uid);
      assert.equal(inst.endpoints[0].host, pod.status!.podIP, 'the endpoint is the Pod address');
      assert.deepEqual(await driver.exec(inst.id, ['/bin/sh', '-c', 'echo "$TOKEN $(cat /etc/app/token)"']), { exitCode: 0, output: 'tok-123 file-secret\n' });
      await driver.stop(inst.id, 1);
      await assert.rejects(cluster.core.readNamespacedSecret({ name: inst.id, namespace: 'slipway-kdrv' }), 'the Secret goes with the instance');
    });

    it('captures the output with timestamps from the pod log API, stdout and stderr in one stream, and keeps it after the Pod is gone', async () => {
      // A second apart: the node writes each stream as it reads it, so lines of both within a moment may swap.
      const inst = await driver.start({ id: id(), labels, image, command: ['/bin/sh', '-c', 'echo one; sleep 1; echo two >&2; exec sleep 60'], env: {}, files: [], ports: [] });
      const lines = await waitFor(async () => {
        const ls = [];
        for await (const l of driver.logs(inst.id, { tail: 10 })) ls.push(l);
        return ls.length >= 2 ? ls : undefined;
      }, 30_000, 'two lines');
      assert.deepEqual(lines.map((l) => l.line), ['one', 'two']);
      assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.ts))));
      await driver.stop(inst.id, 1);
      const kept = [];
      for await (const l of driver.logs(inst.id, {})) kept.push(l.line);
      assert.deepEqual(kept, ['one', 'two']);
    });

    it('fails a start whose image the registry does not have at once, as terminal, leaving no Pod', async () => {
      const bad = id();
      await assert.rejects(driver.start({ id: bad, labels, image: `${REGISTRY}/slipway-test/nothing-here:1`, command: [], env: {}, files: [], ports: [] }), (err: Error) => err instanceof ImagePullError && err.terminal);
      assert.equal((await driver.list()).some((i) => i.id === bad), false);
    });

    it('pulls from a registry that asks for credentials with the saved ones (an image pull Secret), and fails terminally without them or with wrong ones', async () => {
      const users = { puller: 'pull-pass-1' };
      const registry = await startRegistry({ users });
      try {
        const private_ = await pushBusyboxImage(registry.address, 'slipway-test/private', `t${run}`, { username: 'puller', password: users.puller });
        const refused = id();
        await assert.rejects(
          driver.start({ id: refused, labels, image: private_, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [] }),
          (err: Error) => err instanceof ImagePullError && err.terminal && /unauthorized|401|authoriz/i.test(err.message),
        );
        assert.equal((await driver.list()).some((i) => i.id === refused), false);
        // Wrong credentials: final once the kubelet's next attempt, after its back-off, is refused too.
        const wrong = id();
        await assert.rejects(
          driver.start({ id: wrong, labels, image: private_, registryAuth: { username: 'puller', password: 'not-the-password', serveraddress: registry.address }, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [] }),
          (err: Error) => err instanceof ImagePullError && err.terminal && /unauthorized|401|authoriz/i.test(err.message),
        );
        assert.equal((await driver.list()).some((i) => i.id === wrong), false);
        const inst = await driver.start({ id: id(), labels, image: private_, registryAuth: { username: 'puller', password: users.puller, serveraddress: registry.address }, command: ['/bin/sh', '-c', 'echo pulled; exec sleep 60'], env: {}, files: [], ports: [] });
        const pod = await cluster.core.readNamespacedPod({ name: inst.id, namespace: 'slipway-kdrv' });
        assert.deepEqual(pod.spec!.imagePullSecrets!.map((s) => s.name), [`${inst.id}-pull`]);
        const pull = await cluster.core.readNamespacedSecret({ name: `${inst.id}-pull`, namespace: 'slipway-kdrv' });
        assert.equal(pull.type, 'kubernetes.io/dockerconfigjson');
        assert.equal(inst.state, 'running');
        await driver.stop(inst.id, 1);
        await assert.rejects(cluster.core.readNamespacedSecret({ name: `${inst.id}-pull`, namespace: 'slipway-kdrv' }), 'the pull Secret goes with the instance');
      } finally {
        await registry.stop();
      }
    });

    it('mounts a volume as a PersistentVolumeClaim that outlives the instance, and removes it with the volume', async (t) => {
      const classes = (await cluster.get('/apis/storage.k8s.io/v1/storageclasses')).includes('"storageclass.kubernetes.io/is-default-class":"true"');
      if (!classes) return t.skip('the cluster has no default StorageClass to bind claims (scripts/local-kubernetes.sh makes one when kube-controller-manager runs)');
      const volume = { name: `data-${run}`, hostPath: '', mountPath: '/data', sizeMb: 16 };
      const first = await driver.start({ id: id(), labels, image, command: ['/bin/sh', '-c', 'echo kept > "$SLIPWAY_VOLUME_DIR/note"; exec sleep 60'], env: {}, files: [], ports: [], volumes: [volume] });
      const claim = await cluster.core.readNamespacedPersistentVolumeClaim({ name: `vol-${volume.name}`, namespace: 'slipway-kdrv' });
      assert.equal(claim.status!.phase, 'Bound');
      assert.equal(claim.spec!.resources!.requests!.storage, '16Mi');
      const pod = await cluster.core.readNamespacedPod({ name: first.id, namespace: 'slipway-kdrv' });
      assert.equal(pod.spec!.volumes!.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim!.claimName, `vol-${volume.name}`);
      await waitFor(async () => (await driver.exec(first.id, ['/bin/sh', '-c', 'cat /data/note'])).output === 'kept\n', 30_000, 'the file written on the volume');
      await driver.stop(first.id, 1);
      // A later instance mounts the same claim and finds what the first wrote.
      const second = await driver.start({ id: id(), labels, image, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [], volumes: [volume] });
      assert.deepEqual(await driver.exec(second.id, ['/bin/sh', '-c', 'cat /data/note']), { exitCode: 0, output: 'kept\n' });
      await driver.stop(second.id, 1);
      const pv = claim.spec!.volumeName!;
      await driver.removeVolume(volume.name);
      await waitFor(async () => (await cluster.core.readNamespacedPersistentVolumeClaim({ name: `vol-${volume.name}`, namespace: 'slipway-kdrv' }).then(() => false, () => true)), 60_000, 'the claim deleted');
      // Reclaim policy Delete: the bound volume goes with its claim.
      await waitFor(async () => (await cluster.core.readPersistentVolume({ name: pv }).then(() => false, () => true)), 120_000, 'the volume deleted');
      console.log(`kubernetes volume: claim vol-${volume.name} bound to ${pv}, kept across two instances, deleted with the volume`);
    });

    it('runs a release that has only a built artifact: the artifact as an image layer, at /app', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-k8s-artifact-'));
      fs.writeFileSync(path.join(dir, 'hello.txt'), 'from the artifact\n');
      try {
        const inst = await driver.start({ id: id(), labels, artifactDir: dir, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [] });
        assert.deepEqual(await driver.exec(inst.id, ['/bin/sh', '-c', 'pwd; cat hello.txt']), { exitCode: 0, output: '/app\nfrom the artifact\n' });
        await driver.stop(inst.id, 1);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('SLIPWAY_RUNTIME=kubernetes', () => {
    let p: RunningPlatform;
    const project = `kr${run}`;
    const host = `web.${project}.localhost`;
    const svc = `/v1/projects/${project}/services/web`;
    const base = `/projects/${project}/services/web`;
    const status = async () => (await api(p, 'GET', svc)).body.data.status.deployment;
    const byRelease = async () => {
      const c = ((await api(p, 'GET', `${svc}/containers`)).body.data.containers as { release: number; ready: boolean; state: string }[]).filter((x) => x.ready && x.state !== 'stopping');
      const m: Record<number, number> = {};
      for (const x of c) m[x.release] = (m[x.release] ?? 0) + 1;
      return m;
    };

    before(async () => {
      const nodeImage = await pushNodeImage(REGISTRY, 'slipway-test/node', process.version.replace(/^v/, ''));
      p = await startTestPlatform({
        SLIPWAY_RUNTIME: 'kubernetes',
        SLIPWAY_KUBECONFIG: KUBECONFIG,
        SLIPWAY_REGISTRY: `${REGISTRY}/slipway-e2e`,
        SLIPWAY_KUBERNETES_BASE_IMAGE: nodeImage,
        SLIPWAY_PROGRESS_DEADLINE_SECONDS: '120',
        ...(NODE ? { SLIPWAY_KUBERNETES_NODE: NODE } : {}),
      });
      assert.equal((await api(p, 'POST', '/v1/projects', { name: project })).status, 200);
      const created = await api(p, 'POST', `/v1/projects/${project}/services/combined`, {
        name: 'web',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 2 },
        vcsData: { projectUrl: fixtureRepo('hello').dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
        // The Pod's own address reaches the app only where it listens on every interface.
        runtimeEnvironment: { GREETING: 'v1', LISTEN_HOST: '0.0.0.0' },
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      await waitFor(async () => {
        const st = (await status()).status;
        if (st === 'FAILED') throw new Error(`v1 failed: ${p.logs.join('').slice(-4000)}`);
        return st === 'COMPLETED';
      }, 600_000, 'v1 COMPLETED');
    });
    after(async () => {
      await p?.stop();
      await removeScope(`slipway.dev/project=${project}`);
    });

    it('runs each instance as a labelled Pod in the project namespace, serving through the router', async () => {
      const pods = (await cluster.core.listNamespacedPod({ namespace: `slipway-${project}`, labelSelector: 'slipway.dev/service=web' })).items.filter((x) => !x.metadata!.deletionTimestamp);
      assert.equal(pods.length, 2);
      assert.ok(pods.every((x) => x.spec!.containers[0].image!.startsWith(`${REGISTRY}/slipway-e2e/${project}/web@sha256:`)), pods.map((x) => x.spec!.containers[0].image).join(', '));
      const load = routerLoad(p, host);
      await waitFor(async () => load.stats.ok >= 20, 60_000, '20 requests through the router');
      await load.stop();
      console.log(`kubernetes router: ${load.stats.ok} requests answered through the router, ${load.stats.failed} failed`);
      assert.equal(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('; '));
    });

    it('rolls out a new release instance by instance with no failed request', async () => {
      const load = routerLoad(p, host);
      await api(p, 'PATCH', `/v1/projects/${project}/services/combined/web`, { runtimeEnvironment: { GREETING: 'v2', LISTEN_HOST: '0.0.0.0' } });
      await waitFor(async () => (await status()).status === 'IN_PROGRESS' || JSON.stringify(await byRelease()) === '{"2":2}', 60_000, 'rollout started');
      await waitFor(async () => (await status()).status === 'COMPLETED' && JSON.stringify(await byRelease()) === '{"2":2}', 300_000, 'v2 on both instances');
      await load.stop();
      console.log(`kubernetes rolling: ${load.stats.ok} requests answered through the router, ${load.stats.failed} failed`);
      assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
      assert.deepEqual([...load.stats.seen.keys()].sort(), ['v1', 'v2']);
    });

    it('moves a canary back to release 1 in a weighted step, paused until continued, with no failed request', async () => {
      const load = routerLoad(p, host);
      const started = await api(p, 'POST', `${base}/rollouts`, { release: 1, strategy: 'canary', canary: { steps: [{ instanceWeight: 50 }] } });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      await waitFor(async () => (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].canary?.paused === true, 300_000, 'paused at the step');
      assert.deepEqual(await byRelease(), { 1: 1, 2: 1 });
      await api(p, 'POST', `${base}/rollouts/${started.body.number}/continue`);
      await waitFor(async () => (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].status === 'COMPLETED', 300_000, 'canary completed');
      await waitFor(async () => JSON.stringify(await byRelease()) === '{"1":2}', 120_000, 'all on release 1');
      await load.stop();
      console.log(`kubernetes canary: ${load.stats.ok} requests answered through the router, ${load.stats.failed} failed`);
      assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
      assert.deepEqual([...load.stats.seen.keys()].sort(), ['v1', 'v2']);
    });

    it('runs a manual job as a Pod and reports its exit code and output through the API', async () => {
      const job = `/v1/projects/${project}/jobs`;
      const created = await api(p, 'POST', `${job}/manual`, { name: 'once', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'web' } }, command: 'echo "job says $JOB_WORD"; sleep 2; exit 7', runtimeEnvironment: { JOB_WORD: 'hi' }, backoffLimit: 0 });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const started = await api(p, 'POST', `${job}/once/runs`, {});
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const runId = started.body.data.id as string;
      const run = async () => (await api(p, 'GET', `${job}/once/runs/${runId}`)).body.data as Record<string, any>;
      // The attempt is a Pod of the job in the project namespace (seen while it runs or once it ended).
      const pod = await waitFor(async () => (await cluster.core.listNamespacedPod({ namespace: `slipway-${project}`, labelSelector: 'slipway.dev/service=once,slipway.dev/process-type=job' })).items[0], 120_000, 'the job Pod');
      console.log(`kubernetes job: attempt Pod ${pod.metadata!.name} (phase ${pod.status?.phase})`);
      const done = await waitFor(async () => ((await run()).concluded ? run() : undefined), 180_000, 'job run concluded');
      assert.equal(done.status, 'FAILED');
      assert.equal(done.exitCode, 7);
      assert.equal(done.attempts, 1);
      const lines = (await api(p, 'GET', `/projects/${project}/jobs/once/runs/${runId}/logs`)).body.lines as { line: string }[];
      assert.ok(lines.some((l) => l.line === 'job says hi'), JSON.stringify(lines));
      // A one-off with a command override that succeeds.
      const ok = await api(p, 'POST', `${job}/once/runs`, { command: 'echo "second $JOB_WORD"', runtimeEnvironment: { JOB_WORD: 'run' } });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const okRun = async () => (await api(p, 'GET', `${job}/once/runs/${ok.body.data.id}`)).body.data as Record<string, any>;
      const okDone = await waitFor(async () => ((await okRun()).concluded ? okRun() : undefined), 180_000, 'second run concluded');
      assert.equal(okDone.status, 'SUCCESS');
      assert.equal(okDone.exitCode, 0);
      const okLines = (await api(p, 'GET', `/projects/${project}/jobs/once/runs/${okDone.id}/logs`)).body.lines as { line: string }[];
      assert.ok(okLines.some((l) => l.line === 'second run'), JSON.stringify(okLines));
      console.log(`kubernetes job: run 1 ${done.status} exit ${done.exitCode}, run 2 ${okDone.status} exit ${okDone.exitCode}`);
    });

    /** The kubelet's probe events on a Pod (reason Unhealthy), with how many times each was seen. */
    const probeEvents = async (pod: string) =>
      (await cluster.core.listNamespacedEvent({ namespace: `slipway-${project}`, fieldSelector: `involvedObject.name=${pod}` })).items
        .filter((e) => e.reason === 'Unhealthy')
        .map((e) => ({ message: e.message ?? '', count: Math.max(e.count ?? 1, e.series?.count ?? 0) }));
    const containers = async () => (await api(p, 'GET', `${svc}/containers`)).body.data.containers as { name: string; release: number; ready: boolean; restarts: number; lastExitCode: number | null }[];

    it('runs the health checks as the Pod probes and routes by the Pod readiness: a failing readiness check is never routed and holds the rollout', async () => {
      const before = await byRelease();
      const oldReleases = new Set(Object.keys(before).map(Number));
      const load = routerLoad(p, host);
      try {
      const patched = await api(p, 'PATCH', `/v1/projects/${project}/services/combined/web`, {
        runtimeEnvironment: { GREETING: 'v3', LISTEN_HOST: '0.0.0.0', HEALTH_STATUS: '503' },
        healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 }],
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const fresh = await waitFor(async () => (await containers()).find((c) => !oldReleases.has(c.release)), 300_000, 'an instance of the new release');
      // The kubelet has failed the readiness probe of the new Pod twice or more (one event per distinct message:
      // a probe that came before the app listened is counted apart from the 503s).
      const failed = await waitFor(async () => {
        const es = (await probeEvents(fresh.name)).filter((x) => x.message.startsWith('Readiness probe failed'));
        const count = es.reduce((n, x) => n + x.count, 0);
        const last = es.find((x) => x.message.includes('503')) ?? es[0];
        return last && count >= 2 ? { message: last.message, count } : undefined;
      }, 300_000, 'two failed readiness probes');
      const pod = await cluster.core.readNamespacedPod({ name: fresh.name, namespace: `slipway-${project}` });
      assert.deepEqual({ ...pod.spec!.containers[0].readinessProbe!.httpGet, scheme: undefined }, { path: '/health', port: 8080, scheme: undefined });
      assert.equal(pod.spec!.containers[0].readinessProbe!.periodSeconds, 10);
      assert.equal(pod.status!.containerStatuses![0].ready, false);
      assert.ok(pod.status!.containerStatuses![0].state!.running, 'the container runs: only its readiness fails');
      assert.equal((await containers()).find((c) => c.name === fresh.name)!.ready, false, 'slipway reports the Pod readiness');
      assert.equal((await status()).status, 'IN_PROGRESS', 'the rollout does not progress');
      assert.deepEqual(await byRelease(), before, 'the old instances still serve, none replaced');
      await load.stop();
      console.log(`kubernetes readiness: "${failed.message}" x${failed.count}; ${load.stats.ok} requests answered, ${load.stats.failed} failed, seen ${[...load.stats.seen.keys()].join(',')}`);
      assert.equal(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('; '));
      assert.ok(!load.stats.seen.has('v3'), 'the unready instance is never routed');
      } finally {
        await load.stop();
      }
    });

    it('a failing liveness check makes the kubelet stop the container, and slipway replaces the instance', async () => {
      const oldReleases = new Set((await containers()).map((c) => c.release));
      const patched = await api(p, 'PATCH', `/v1/projects/${project}/services/combined/web`, {
        runtimeEnvironment: { GREETING: 'v4', LISTEN_HOST: '0.0.0.0', HEALTH_STATUS: '200', LIVE_FAIL_AFTER_MS: '15000' },
        healthChecks: [
          { protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 1, successThreshold: 1 },
          { protocol: 'HTTP', type: 'livenessProbe', path: '/live', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 1 },
        ],
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const fresh = await waitFor(async () => (await containers()).find((c) => !oldReleases.has(c.release) && c.ready), 300_000, 'a ready instance of the new release');
      const firstUid = (await cluster.core.readNamespacedPod({ name: fresh.name, namespace: `slipway-${project}` })).metadata!.uid;
      const pod = await cluster.core.readNamespacedPod({ name: fresh.name, namespace: `slipway-${project}` });
      assert.deepEqual({ ...pod.spec!.containers[0].livenessProbe!.httpGet, scheme: undefined }, { path: '/live', port: 8080, scheme: undefined });
      const liveness = await waitFor(async () => (await probeEvents(fresh.name)).find((x) => x.message.startsWith('Liveness probe failed')), 120_000, 'a failed liveness probe');
      // restartPolicy Never: the kubelet stops the container, the Pod ends, and slipway starts a new Pod for the slot.
      const replaced = await waitFor(async () => {
        const c = (await containers()).find((x) => x.name === fresh.name);
        if (!c || c.restarts < 1) return undefined;
        const now = await cluster.core.readNamespacedPod({ name: fresh.name, namespace: `slipway-${project}` }).catch(() => undefined);
        return now && now.metadata!.uid !== firstUid ? { c, uid: now.metadata!.uid } : undefined;
      }, 180_000, 'the instance replaced');
      console.log(`kubernetes liveness: "${liveness.message}"; instance ${fresh.name} restarts ${replaced.c.restarts}, last exit code ${replaced.c.lastExitCode}, Pod uid ${firstUid} -> ${replaced.uid}`);
      assert.ok(replaced.c.restarts >= 1);
    });
  });
}
