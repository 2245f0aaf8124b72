import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import type { InstanceSpec } from '../driver.ts';
import { imagePullProblem, isAuthRefusal, isTerminalPull, namespaceName, observedOf, podManifest, pullSecretManifest, readinessOf, secretManifest } from './pod-manifest.ts';

const spec: InstanceSpec = {
  id: 'shop--web--web-r3-0-abc',
  labels: { project: 'shop', service: 'web', release: 'r3', processType: 'web' },
  image: 'registry.example/shop/web:1',
  command: [],
  env: { SECRET_TOKEN: 's3cr3t', SLIPWAY_INSTANCE: 'shop--web--web-r3-0-abc' },
  files: [{ path: '/etc/app/config.json', content: Buffer.from('{"a":1}') }],
  ports: [
    { name: 'p01', internalPort: 8080 },
    { name: 'admin', internalPort: 9000 },
  ],
  memoryMb: 512,
  cpu: 0.5,
  shmSizeMb: 64,
  registryAuth: { username: 'u', password: 'p', serveraddress: 'registry.example' },
};
const opts = { namespace: 'slipway-shop', scope: 'abc123', image: 'registry.example/shop/web:1', claimOf: (v: { name: string }) => `vol-${v.name}` };

describe('kubernetes pod manifest', () => {
  it('makes the health checks the container probes (HTTP, TCP, CMD), with a TCP readiness check of the first port by default', () => {
    const checks: InstanceSpec['healthChecks'] = [
      { protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 2 },
      { protocol: 'CMD', type: 'livenessProbe', cmd: 'test -f /tmp/ok', initialDelaySeconds: 0, periodSeconds: 0.5, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 4 },
      { protocol: 'TCP', type: 'startupProbe', port: 9000, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 30 },
    ];
    const c = podManifest({ ...spec, healthChecks: checks }, opts).spec!.containers[0];
    assert.deepEqual(c.readinessProbe, { httpGet: { path: '/health', port: 8080 }, initialDelaySeconds: 1, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 2 });
    // Kubernetes counts whole seconds and takes successThreshold 1 only, but for readiness.
    assert.deepEqual(c.livenessProbe, { exec: { command: ['/bin/sh', '-c', 'test -f /tmp/ok'] }, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 });
    assert.deepEqual(c.startupProbe, { tcpSocket: { port: 9000 }, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 30, successThreshold: 1 });
    const plain = podManifest({ ...spec, healthChecks: [] }, opts).spec!.containers[0];
    assert.deepEqual(plain.readinessProbe?.tcpSocket, { port: 8080 });
    assert.equal(plain.livenessProbe, undefined);
    assert.equal(podManifest(spec, opts).spec!.containers[0].readinessProbe, undefined, 'no checks given: no probes');
  });

  it('reads started and ready from the container status', () => {
    const pod = (cs: object): V1Pod => ({ status: { containerStatuses: [{ name: 'app', image: 'x', imageID: '', restartCount: 0, ...cs }] as never } });
    assert.deepEqual(readinessOf(pod({ ready: true, started: true, state: { running: {} } })), { started: true, ready: true });
    assert.deepEqual(readinessOf(pod({ ready: false, started: false, state: { running: {} } })), { started: false, ready: false });
    assert.deepEqual(readinessOf(pod({ ready: false, state: { waiting: { reason: 'ContainerCreating' } } })), { started: false, ready: false });
  });

  it('keeps the environment and files out of the Pod: env from Secret keys, each file mounted by subPath', () => {
    const pod = podManifest(spec, opts);
    const text = JSON.stringify(pod);
    assert.ok(!text.includes('s3cr3t'), 'no secret value in the Pod object');
    const c = pod.spec!.containers[0];
    assert.deepEqual(
      c.env!.filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom!.secretKeyRef!.name]),
      [
        ['SECRET_TOKEN', spec.id],
        ['SLIPWAY_INSTANCE', spec.id],
      ],
    );
    assert.deepEqual(c.env!.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]), [
      ['PORT', '8080'],
      ['PORT_P01', '8080'],
      ['PORT_ADMIN', '9000'],
    ]);
    assert.deepEqual(c.volumeMounts!.find((m) => m.mountPath === '/etc/app/config.json'), { name: 'files', mountPath: '/etc/app/config.json', subPath: 'file-0', readOnly: true });
    const secret = secretManifest(spec, opts);
    assert.equal(Buffer.from(secret.data!['env-0'], 'base64').toString(), 's3cr3t');
    assert.equal(Buffer.from(secret.data!['file-0'], 'base64').toString(), '{"a":1}');
  });

  it('sets limits from the plan, requests below them, and /dev/shm as a memory emptyDir', () => {
    const pod = podManifest(spec, opts);
    const r = pod.spec!.containers[0].resources!;
    assert.deepEqual(r.limits, { memory: '512Mi', cpu: '500m' });
    assert.deepEqual(r.requests, { memory: '128Mi', cpu: '50m' });
    assert.deepEqual(pod.spec!.volumes!.find((v) => v.name === 'shm')!.emptyDir, { medium: 'Memory', sizeLimit: '64Mi' });
  });

  it('labels the Pod for selection and never restarts it itself', () => {
    const pod = podManifest(spec, opts);
    assert.equal(pod.metadata!.labels!['slipway.dev/scope'], 'abc123');
    assert.equal(pod.metadata!.labels!['slipway.dev/instance'], spec.id);
    assert.equal(pod.spec!.restartPolicy, 'Never');
    assert.deepEqual(pod.spec!.imagePullSecrets, [{ name: `${spec.id}-pull` }]);
    const pull = pullSecretManifest(spec, opts)!;
    assert.equal(pull.type, 'kubernetes.io/dockerconfigjson');
    assert.deepEqual(JSON.parse(Buffer.from(pull.data!['.dockerconfigjson'], 'base64').toString()).auths['registry.example'].auth, Buffer.from('u:p').toString('base64'));
  });

  it('overrides the image entrypoint and cmd only when the spec has no command', () => {
    assert.deepEqual(podManifest({ ...spec, command: ['/bin/sh', '-c', 'x'] }, opts).spec!.containers[0].command, ['/bin/sh', '-c', 'x']);
    const c = podManifest({ ...spec, entrypoint: ['/e'], cmd: ['a'] }, opts).spec!.containers[0];
    assert.deepEqual([c.command, c.args], [['/e'], ['a']]);
  });

  it('reads a Pod back as the instance it runs: endpoints at the Pod address once the container runs', () => {
    const pod = podManifest(spec, opts) as V1Pod;
    assert.equal(observedOf(pod)!.state, 'starting');
    pod.status = { podIP: '10.244.0.7', hostIP: '127.0.0.1', phase: 'Running', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, image: '', imageID: '', state: { running: { startedAt: new Date('2026-01-01T00:00:00Z') } } }] };
    assert.deepEqual(observedOf(pod), {
      id: spec.id,
      labels: spec.labels,
      state: 'running',
      endpoints: [
        { name: 'p01', internalPort: 8080, host: '10.244.0.7', port: 8080 },
        { name: 'admin', internalPort: 9000, host: '10.244.0.7', port: 9000 },
      ],
      address: '10.244.0.7',
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    pod.status.containerStatuses![0].state = { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: new Date('2026-01-01T00:00:00Z'), finishedAt: new Date('2026-01-01T00:01:00Z') } };
    const exited = observedOf(pod)!;
    assert.deepEqual([exited.state, exited.exitCode, exited.reason, exited.endpoints], ['exited', 137, 'OOMKilled', []]);
  });

  it('tells a refused image from a pull that may succeed later', () => {
    const waiting = (reason: string, message: string): V1Pod => ({ status: { containerStatuses: [{ name: 'app', ready: false, restartCount: 0, image: '', imageID: '', state: { waiting: { reason, message } } }] } });
    const refused = imagePullProblem(waiting('ErrImagePull', 'failed to resolve reference "r/x:1": r/x:1: not found'))!;
    assert.equal(isTerminalPull(refused), true);
    const flaky = imagePullProblem(waiting('ErrImagePull', 'dial tcp 10.0.0.1:443: i/o timeout'))!;
    assert.equal(isTerminalPull(flaky), false);
    const unauthorized = imagePullProblem(waiting('ErrImagePull', 'failed to resolve reference "r/x:1": pulling from host r failed with status code [manifests 1]: 401 Unauthorized'))!;
    assert.equal(isTerminalPull(unauthorized), true);
    assert.equal(isAuthRefusal(unauthorized), true, 'refused credentials: the kubelet may have pulled before it could read the pull Secret');
    assert.equal(isAuthRefusal(refused), false);
    assert.equal(isAuthRefusal(imagePullProblem(waiting('ImagePullBackOff', 'Back-off pulling image "r/x:1"'))!), false);
    assert.equal(imagePullProblem(waiting('ContainerCreating', '')), undefined);
  });

  it('names a project namespace as a DNS label', () => {
    assert.equal(namespaceName('slipway-', 'shop'), 'slipway-shop');
    assert.equal(namespaceName('slipway-', 'Big_Project'), 'slipway-big-project');
    assert.equal(namespaceName('slipway-', 'x'.repeat(80)).length, 63);
  });
});
