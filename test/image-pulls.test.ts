/**
 * Image pulls that say why, and no cache back door (docker runtime on Podman, registries from Debian's
 * docker-registry on 127.0.0.1):
 * - a registry that speaks plain HTTP and that Podman is not told is insecure, and a tag the registry does
 *   not have, fail the rollout on the first attempt with the engine's words in its events and the status;
 * - a registry that refuses connections is retried, each attempt's message in the rollout and the status,
 *   until it comes up and the rollout completes;
 * - a private image the engine pulled with good credentials is not run for a deployment whose credentials
 *   the registry refuses, nor for another project's deployment with none: no container is ever made for
 *   them; other good credentials are confirmed with the registry and use the engine's copy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, freePort, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { IMAGE, buildConformanceImage, startPodman, type PodmanService } from './support/podman.ts';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.ts';

const USER = 'deployer';
const PASSWORD = `pw-${process.pid}-Hx4`;
const READER = 'reader';
const READER_PASSWORD = `rd-${process.pid}-Kq2`;
const WRONG_PASSWORD = `not-it-${process.pid}`;

interface Rollout {
  toRelease: number;
  status: string;
  message: string | null;
  events: { message: string }[];
}

describe('image pulls that say why, and no cache back door (docker runtime)', () => {
  let priv: TestRegistry;
  let plain: TestRegistry;
  let later: TestRegistry | undefined;
  let laterAddress: string;
  let podman: PodmanService;
  let p: RunningPlatform;
  let repo: string;

  const rollouts = async (project: string, service: string) => (await api(p, 'GET', `/projects/${project}/services/${service}/rollouts`)).body.rollouts as Rollout[];
  const status = async (project: string, service: string) => (await api(p, 'GET', `/v1/projects/${project}/services/${service}`)).body.data?.status?.deployment as { status: string; message?: string } | undefined;
  const containersOf = async (project: string, service: string) => podman.docker.listContainers({ all: true, filters: { label: [`slipway.project=${project}`, `slipway.service=${service}`] } });

  async function deploy(project: string, name: string, imagePath: string, credentials?: string): Promise<void> {
    const res = await api(p, 'POST', `/v1/projects/${project}/services/deployment`, {
      name,
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1, external: { imagePath, ...(credentials ? { credentials } : {}) } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  /** The first rollout once it is over, with the service's status once that has followed. */
  async function concluded(project: string, service: string): Promise<{ rollout: Rollout; status: { status: string; message?: string } }> {
    const rollout = await waitFor(async () => {
      const r = (await rollouts(project, service)).find((x) => x.toRelease === 1);
      return r && r.status !== 'IN_PROGRESS' ? r : undefined;
    }, 180_000, `rollout of ${project}/${service} concluded`);
    const st = await waitFor(async () => {
      const s = await status(project, service);
      return s && s.status !== 'IN_PROGRESS' && s.status !== 'PENDING' ? s : undefined;
    }, 30_000, `status of ${project}/${service} concluded`);
    console.log(`${project}/${service}: ${rollout.status}: ${rollout.message}\n  ${rollout.events.map((e) => e.message).join('\n  ')}`);
    return { rollout, status: st };
  }

  before(async () => {
    priv = await startRegistry({ users: { [USER]: PASSWORD, [READER]: READER_PASSWORD } });
    plain = await startRegistry();
    laterAddress = `127.0.0.1:${await freePort()}`;
    // Podman is told `priv` and the registry that comes up later are insecure (plain HTTP); not `plain`.
    podman = await startPodman({ insecureRegistries: [priv.address, laterAddress] });
    await buildConformanceImage(podman.docker);
    repo = `${priv.address}/slipway/conformance`;
    await pushImage(podman.docker, IMAGE, repo, 'v1', { username: USER, password: PASSWORD, serveraddress: priv.address });
    await assert.rejects(podman.docker.getImage(`${repo}:v1`).inspect(), 'the registry-tagged image is not in the engine before the deploys');
    p = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: podman.dockerHost });
    for (const [name, username, password] of [['Good', USER, PASSWORD], ['Wrong', USER, WRONG_PASSWORD], ['Reader', READER, READER_PASSWORD]]) {
      const res = await api(p, 'POST', '/v1/integrations/registries', { name, provider: 'custom', registryUrl: priv.address, credentials: { username, password, scope: { pull: true } } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    for (const name of ['pulls', 'other']) assert.equal((await api(p, 'POST', '/v1/projects', { name })).status, 200);
  });

  after(async () => {
    await p?.stop();
    if (podman) {
      for (const project of ['pulls', 'other']) {
        for (const c of await podman.docker.listContainers({ all: true, filters: { label: [`slipway.project=${project}`] } })) await podman.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
      }
      await podman.stop();
    }
    await priv?.stop();
    await plain?.stop();
    await later?.stop();
  });

  it('fails at once a pull from a plain-HTTP registry the engine is not told is insecure, with the engine\'s words', async () => {
    await deploy('pulls', 'plain', `${plain.address}/slipway/conformance:v1`);
    const { rollout, status: st } = await concluded('pulls', 'plain');
    assert.equal(rollout.status, 'FAILED');
    const engineWords = /server gave HTTP response to HTTPS client/;
    assert.match(rollout.message ?? '', engineWords);
    assert.match(rollout.message ?? '', /plain HTTP and the container engine is not told it is insecure/);
    assert.ok(rollout.events.some((e) => engineWords.test(e.message)), 'the engine\'s message is in the rollout events');
    // On the first attempt: no retry was ever scheduled.
    assert.equal(rollout.events.filter((e) => /could not start \(attempt/.test(e.message)).length, 0, JSON.stringify(rollout.events));
    assert.equal(st.status, 'FAILED');
    assert.match(st.message ?? '', engineWords);
    assert.equal((await containersOf('pulls', 'plain')).length, 0);
  });

  it('fails at once a tag the registry does not have, with the engine\'s words', async () => {
    await deploy('pulls', 'notag', `${repo}:nope`, 'good');
    const { rollout, status: st } = await concluded('pulls', 'notag');
    assert.equal(rollout.status, 'FAILED');
    assert.match(rollout.message ?? '', /conformance:nope/);
    assert.match(rollout.message ?? '', /no such image or tag: .*manifest unknown/);
    assert.equal(rollout.events.filter((e) => /could not start \(attempt/.test(e.message)).length, 0, JSON.stringify(rollout.events));
    assert.equal(st.status, 'FAILED');
    assert.match(st.message ?? '', /manifest unknown/);
  });

  it('retries a registry that refuses connections, each attempt\'s message in the rollout and the status, until it is up', async () => {
    const image = `${laterAddress}/slipway/conformance:v1`;
    await deploy('pulls', 'later', image);
    const refused = /connection refused/;
    const waiting = await waitFor(async () => {
      const r = (await rollouts('pulls', 'later')).find((x) => x.toRelease === 1);
      return r && (r.status !== 'IN_PROGRESS' || r.events.filter((e) => /could not start \(attempt \d+\): .*; retrying in /.test(e.message) && refused.test(e.message)).length >= 2) ? r : undefined;
    }, 120_000, 'two failed attempts in the rollout events');
    assert.equal(waiting.status, 'IN_PROGRESS', `the rollout waits for the registry: ${JSON.stringify(waiting)}`);
    assert.ok(waiting.events.some((e) => /could not start \(attempt 2\)/.test(e.message)), 'each attempt is its own event');
    const st = await status('pulls', 'later');
    assert.equal(st?.status, 'IN_PROGRESS');
    assert.match(st?.message ?? '', refused);
    assert.match(st?.message ?? '', /could not be reached \(retrying\)/);

    // The registry comes up, serving the image from a copy of the private registry's storage, without auth.
    later = await startRegistry({ port: Number(laterAddress.split(':')[1]), dataFrom: priv.dataDir });
    const { rollout, status: done } = await concluded('pulls', 'later');
    assert.equal(rollout.status, 'COMPLETED', JSON.stringify(rollout));
    assert.equal(done.status, 'COMPLETED');
    assert.ok(rollout.events.some((e) => e.message === `pulled ${image}`), 'it pulled once the registry was up');
    const res = await viaRouter(p, 'p01--later--pulls.localhost');
    assert.equal(res.status, 200);
  });

  it('runs a private image the engine has cached only for credentials the registry accepts', async () => {
    const image = `${repo}:v1`;
    await deploy('pulls', 'private', image, 'good');
    const first = await concluded('pulls', 'private');
    assert.equal(first.rollout.status, 'COMPLETED', JSON.stringify(first.rollout));
    assert.ok(first.rollout.events.some((e) => e.message === `pulled ${image}`));
    await podman.docker.getImage(image).inspect(); // now in the engine's cache

    // (a) credentials the registry refuses: the cached copy is not used, nothing is pulled or started.
    await deploy('pulls', 'wrongcreds', image, 'wrong');
    const a = await concluded('pulls', 'wrongcreds');
    assert.equal(a.rollout.status, 'FAILED');
    assert.match(a.rollout.message ?? '', /the registry refused the credentials; the engine's cached copy is not used without the registry's consent: .*401/);
    assert.ok(a.rollout.events.some((e) => e.message.includes(`asking ${priv.address} whether '${USER}' may pull it`)), JSON.stringify(a.rollout.events));
    assert.ok(!a.rollout.events.some((e) => e.message.startsWith('pulling ')), 'no pull was attempted');
    assert.equal(a.status.status, 'FAILED');
    assert.match(a.status.message ?? '', /refused the credentials/);
    assert.ok(!JSON.stringify(a).includes(WRONG_PASSWORD) && !JSON.stringify(a).includes(PASSWORD));
    assert.equal((await containersOf('pulls', 'wrongcreds')).length, 0, 'no container was ever made');

    // (b) another project naming no credentials: refused the same way.
    await deploy('other', 'nocreds', image);
    const b = await concluded('other', 'nocreds');
    assert.equal(b.rollout.status, 'FAILED');
    assert.match(b.rollout.message ?? '', /the registry requires credentials and the deployment names none; the engine's cached copy is not used/);
    assert.ok(b.rollout.events.some((e) => e.message.includes('whether a client without credentials may pull it')));
    assert.equal(b.status.status, 'FAILED');
    assert.equal((await containersOf('other', 'nocreds')).length, 0, 'no container was ever made');

    // Other credentials the registry accepts: confirmed with it, and the engine's copy runs.
    await deploy('other', 'reader', image, 'reader');
    const c = await concluded('other', 'reader');
    assert.equal(c.rollout.status, 'COMPLETED', JSON.stringify(c.rollout));
    assert.ok(c.rollout.events.some((e) => e.message === `${priv.address} lets '${READER}' pull ${image}: using the engine's copy`), JSON.stringify(c.rollout.events));
    assert.ok(!c.rollout.events.some((e) => e.message.startsWith('pulling ')));
    assert.equal((await viaRouter(p, 'p01--reader--other.localhost')).status, 200);
  });
});
