// Load for the zero-downtime benchmark: two request loops to 127.0.0.1, one on a kept-alive connection,
// one opening a fresh connection per request. A request that hangs counts as failed after 5 s.
// Plain JavaScript so it also runs as a worker thread (where no TypeScript loader is registered).
import http from 'node:http';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export function startLoad(port, host) {
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const state = { ok: 0, failed: 0, running: true };
  const one = (agent) =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) state.ok++;
          else state.failed++;
          resolve();
        });
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        state.failed++;
        resolve();
      });
    });
  const loops = [keepAlive, false].map(async (agent) => {
    while (state.running) await one(agent);
  });
  return {
    get ok() {
      return state.ok;
    },
    get failed() {
      return state.failed;
    },
    async stop() {
      state.running = false;
      await Promise.all(loops);
      keepAlive.destroy();
    },
  };
}

if (!isMainThread && workerData?.port) {
  const load = startLoad(workerData.port, workerData.host);
  parentPort.once('message', async () => {
    await load.stop();
    parentPort.postMessage({ ok: load.ok, failed: load.failed });
  });
}
