/**
 * Volumes on the docker runtime (Podman): an instance spec's volume becomes an engine named volume bound to
 * the host directory the platform owns, mounted at the volume's path; what one container writes there the
 * next one reads, and it lands in the host directory (where backups copy from).
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerDriver } from '../src/runtime/docker/docker-driver.ts';
import { IMAGE, buildConformanceImage, startPodman } from './support/podman.ts';

const podman = await startPodman();
const { dockerHost, docker } = podman;
after(() => podman.stop());
await buildConformanceImage(docker);

const labels = { project: 'vk', service: 'svc', release: 'r1', processType: 'web' };

it('mounts an engine named volume backed by the volume directory, and the data outlives the container', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-docker-vol-'));
  const hostPath = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-volume-'));
  const driver = new DockerDriver({ stateDir, dockerHost, scope: `t${process.pid.toString(16)}` });
  const volumes = [{ name: `vol-${process.pid.toString(16)}`, hostPath, mountPath: '/data', sizeMb: 64 }];
  const first = `vk--svc--web-r1-0-${process.pid.toString(16)}`;
  const second = `vk--svc--web-r2-0-${process.pid.toString(16)}`;
  try {
    await driver.start({ id: first, labels, image: IMAGE, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [], volumes });
    const written = await driver.exec(first, ['/bin/sh', '-c', 'echo "$SLIPWAY_VOLUME_DIR" && echo kept > /data/value.txt && cat /data/value.txt']);
    assert.deepEqual(written, { exitCode: 0, output: '/data\nkept\n' });
    const info = await docker.getContainer(first).inspect();
    const mount = info.Mounts.find((m: { Destination: string }) => m.Destination === '/data') as { Type: string; Name?: string } | undefined;
    assert.equal(mount?.Type, 'volume');
    assert.equal(mount?.Name, `slipway-t${process.pid.toString(16)}-${volumes[0].name}`);
    await driver.stop(first, 1);
    assert.equal(fs.readFileSync(path.join(hostPath, 'value.txt'), 'utf8'), 'kept\n');

    await driver.start({ id: second, labels: { ...labels, release: 'r2' }, image: IMAGE, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [], volumes });
    assert.deepEqual(await driver.exec(second, ['/bin/sh', '-c', 'cat /data/value.txt']), { exitCode: 0, output: 'kept\n' });
    await driver.stop(second, 1);
    // A deleted volume: the engine forgets its handle (twice is fine), the data directory is the platform's.
    await driver.removeVolume(volumes[0].name);
    await driver.removeVolume(volumes[0].name);
    await assert.rejects(docker.getVolume(`slipway-t${process.pid.toString(16)}-${volumes[0].name}`).inspect());
  } finally {
    await driver.stop(first, 1).catch(() => {});
    await driver.stop(second, 1).catch(() => {});
    await docker.getVolume(`slipway-t${process.pid.toString(16)}-${volumes[0].name}`).remove().catch(() => {});
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(hostPath, { recursive: true, force: true });
  }
});
