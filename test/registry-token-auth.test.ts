/**
 * The docker runtime against a registry that signs users in with Bearer tokens, as Docker Hub and most hosted
 * registries do (Debian's docker-registry with token authentication; the token service is the test's):
 * Podman pulls with the deployment's credentials through the token flow, and the driver's check before it
 * runs an image the engine has cached follows the same flow: good credentials run the engine's copy, wrong
 * ones and none are refused at once, without a container ever made.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMAGE, buildConformanceImage, startPodman, type PodmanService } from './support/podman.ts';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.ts';
import { DockerDriver } from '../src/runtime/docker/docker-driver.ts';
import { ImagePullError, type InstanceSpec } from '../src/runtime/driver.ts';

const USER = 'deployer';
const PASSWORD = `pw-${process.pid}-Tk7`;
const READER = 'reader';
const READER_PASSWORD = `rd-${process.pid}-Tk8`;
const WRONG_PASSWORD = `not-it-${process.pid}-Tk9`;

describe('pulls and cached-image checks through a token-authenticating registry (docker runtime)', () => {
  let registry: TestRegistry;
  let podman: PodmanService;
  let driver: DockerDriver;
  let stateDir: string;
  let image: string;
  const labels = { project: 'tok', service: 'svc', release: 'r1', processType: 'web' };
  const suffix = process.pid.toString(16);
  const started: string[] = [];

  const spec = (n: number, auth?: { username: string; password: string }): InstanceSpec => ({
    id: `tok--svc--web-r1-${n}-${suffix}`,
    labels,
    image,
    ...(auth ? { registryAuth: { ...auth, serveraddress: registry.address } } : {}),
    command: ['/bin/sh', '-c', 'exec sleep 120'],
    env: {},
    files: [],
    ports: [],
  });

  async function start(s: InstanceSpec): Promise<string[]> {
    const progress: string[] = [];
    started.push(s.id);
    await driver.start(s, { onProgress: (m) => progress.push(m) });
    return progress;
  }

  before(async () => {
    registry = await startRegistry({ users: { [USER]: PASSWORD, [READER]: READER_PASSWORD }, auth: 'token' });
    const challenge = (await fetch(`http://${registry.address}/v2/`)).headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token"/, 'the registry asks for a token');
    podman = await startPodman({ insecureRegistries: [registry.address] });
    await buildConformanceImage(podman.docker);
    image = `${registry.address}/team/app:v1`;
    await pushImage(podman.docker, IMAGE, `${registry.address}/team/app`, 'v1', { username: USER, password: PASSWORD, serveraddress: registry.address });
    await assert.rejects(podman.docker.getImage(image).inspect(), 'not in the engine before the first start');
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-token-'));
    driver = new DockerDriver({ stateDir, dockerHost: podman.dockerHost });
  });

  after(async () => {
    for (const id of started) await driver?.stop(id, 1).catch(() => {});
    await driver?.close();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    if (podman) {
      await podman.docker.getImage(image).remove().catch(() => {});
      await podman.stop();
    }
    await registry?.stop();
  });

  it('pulls with credentials through the token flow', async () => {
    const progress = await start(spec(0, { username: USER, password: PASSWORD }));
    assert.ok(progress.includes(`pulled ${image}`), JSON.stringify(progress));
    assert.ok((await driver.list()).some((i) => i.id === spec(0).id && i.state !== 'exited'));
  });

  it('refuses the cached image for wrong credentials and for none, making no container', async () => {
    for (const [n, auth, why] of [
      [1, { username: USER, password: WRONG_PASSWORD }, /the registry refused the credentials; the engine's cached copy is not used without the registry's consent: .*token service .* answered 401/],
      [2, undefined, /the registry requires credentials and the deployment names none; the engine's cached copy is not used without the registry's consent: .*answered 401/],
    ] as const) {
      const err = await driver.start(spec(n, auth)).then(
        () => assert.fail(`started ${image} with ${auth ? 'wrong credentials' : 'no credentials'}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ImagePullError, String(err));
      assert.equal(err.terminal, true);
      assert.match(err.message, why);
      assert.ok(!err.message.includes(PASSWORD) && !err.message.includes(WRONG_PASSWORD));
      assert.equal((await podman.docker.listContainers({ all: true, filters: { name: [spec(n).id] } })).length, 0, 'no container was made');
    }
  });

  it('runs the cached image for other credentials the registry accepts, once it has confirmed them', async () => {
    const progress = await start(spec(3, { username: READER, password: READER_PASSWORD }));
    assert.deepEqual(progress, [`the engine has ${image}: asking ${registry.address} whether '${READER}' may pull it`, `${registry.address} lets '${READER}' pull ${image}: using the engine's copy`]);
    // Confirmed once: the next instance with those credentials starts without asking again.
    assert.deepEqual(await start(spec(4, { username: READER, password: READER_PASSWORD })), []);
  });
});
