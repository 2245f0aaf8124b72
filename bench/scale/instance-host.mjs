/**
 * The instance host of bench/scale.ts's runtime stand-in: ONE process that serves every "instance" as real
 * HTTP listeners on 127.0.0.1 (one per port of the instance), so HAProxy, the probes and the benchmark's
 * requests reach real sockets, without 10,000 Node processes on a 2-core machine. It is driven over IPC by
 * the stand-in driver (stand-in-driver.ts): `start` binds the instance's ports (port 0) and answers with
 * them; `stop` closes them (open connections are cut after `graceMs`). Each listener answers any request with
 * the instance's id and a few of its variables, as the conformance app does.
 */
import http from 'node:http';

/** instance id → { servers, body } */
const instances = new Map();

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

async function start(msg) {
  const had = instances.get(msg.id);
  if (had) return had.ports;
  const entry = { servers: [], ports: [], starting: true };
  instances.set(msg.id, entry);
  for (const p of msg.ports) {
    const server = http.createServer({ keepAlive: true }, (req, res) => {
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(entry.body);
    });
    server.keepAliveTimeout = 5000;
    const port = await listen(server);
    entry.servers.push(server);
    entry.ports.push({ name: p.name, internalPort: p.internalPort, port });
  }
  const env = msg.env ?? {};
  // The runtime files the spec places, kept in memory: the one FILE_AT names is served as the conformance app does.
  const file = (msg.files ?? []).find((f) => f.path === env.FILE_AT);
  entry.body = JSON.stringify({ env: { A: env.A, SLIPWAY_INSTANCE: msg.id, SLIPWAY_RELEASE: env.SLIPWAY_RELEASE, PORT: String(entry.ports[0]?.port ?? '') }, file: file ? Buffer.from(file.base64, 'base64').toString('utf8') : null, filesDir: null, instance: msg.id, standIn: true });
  return entry.ports;
}

async function stop(msg) {
  const entry = instances.get(msg.id);
  if (!entry) return;
  instances.delete(msg.id);
  await Promise.all(
    entry.servers.map(
      (s) =>
        new Promise((resolve) => {
          s.close(() => resolve());
          // keep-alive connections idle now are closed at once; busy ones get the grace period
          s.closeIdleConnections();
          setTimeout(() => s.closeAllConnections(), msg.graceMs ?? 0).unref();
        }),
    ),
  );
}

process.on('message', (msg) => {
  const reply = (body) => process.send?.({ rid: msg.rid, ...body });
  const run = msg.op === 'start' ? start(msg).then((ports) => reply({ ports })) : msg.op === 'stop' ? stop(msg).then(() => reply({})) : Promise.resolve(reply({ count: instances.size, rssBytes: process.memoryUsage().rss }));
  run.catch((err) => reply({ error: err instanceof Error ? err.message : String(err) }));
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
