/**
 * The built-in router's own process: `node --import tsx router-host.ts <dataDir>/router/builtin-router.json`.
 * It runs the Node proxy (../node-proxy/node-router.ts) with the options in that file, takes the control
 * plane's tables on a unix socket and keeps serving the last one while no control plane is connected, so
 * a control plane that stops or dies (even `kill -9`) takes no request down with it; the next one adopts
 * this process (see process-router.ts). SIGTERM or a `stop` message: drain, close, exit.
 */
import fs from 'node:fs';
import net from 'node:net';
import { pino } from 'pino';
import { NodeRouter } from '../node-proxy/node-router.ts';
import type { RoutingTable } from '../table.ts';
import { messageReader, processFiles, type FromRouter, type RouterProcessOptions, type ToRouter } from './protocol.ts';

const LOAD_PUSH_MS = 50;

async function main(): Promise<void> {
  const options = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as RouterProcessOptions;
  const files = processFiles(options.dataDir);
  const logger = pino({ level: options.logLevel, base: { component: 'builtin-router', pid: process.pid } });
  let client: net.Socket | undefined;
  const send = (m: FromRouter) => {
    if (client && !client.destroyed) client.write(`${JSON.stringify(m)}\n`);
  };
  const router = new NodeRouter({
    host: options.host,
    port: options.port,
    ...(options.tlsPort !== undefined ? { tlsPort: options.tlsPort } : {}),
    ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
    ...(options.tcpPorts ? { tcpPorts: options.tcpPorts } : {}),
    ...(options.domain ? { domain: options.domain } : {}),
    dataDir: options.dataDir,
    ...(options.upstreamTimeoutMs !== undefined ? { upstreamTimeoutMs: options.upstreamTimeoutMs } : {}),
    logger,
    ...(options.accessLog ? { accessLog: (entry) => send({ type: 'access', entry }) } : {}),
  });
  await router.start();

  let table: RoutingTable = { routes: [] };
  let seq = 0;
  const countsOf = () => [...router.inFlightCounts()];
  const onMessage = async (m: ToRouter) => {
    if (m.type === 'stop') return shutdown('stop message');
    if (m.type !== 'table' || !Array.isArray(m.table?.routes)) return;
    table = m.table;
    seq = m.seq;
    router.setTable(table);
    // Counted after the swap: a removed endpoint gets no new request, so its count only falls from here.
    await router.settled();
    const tcpPorts = table.routes.filter((r) => r.protocol === 'TCP').flatMap((r) => (router.tcpPortOf(r.key) !== undefined ? [[r.key, router.tcpPortOf(r.key)!] as [string, number]] : []));
    send({ type: 'applied', seq: m.seq, tcpPorts, inFlight: countsOf() });
  };

  fs.rmSync(files.socket, { force: true });
  const server = net.createServer((sock) => {
    // One control plane at a time: a newer connection is the restarted one.
    if (client && client !== sock) client.destroy();
    client = sock;
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (client === sock) client = undefined;
    });
    sock.on('data', messageReader<ToRouter>((m) => void onMessage(m).catch((err) => logger.warn({ err: (err as Error).message }, 'message not handled'))));
    send({ type: 'hello', pid: process.pid, options, address: router.address(), table, seq });
    logger.info({ routes: table.routes.length }, 'control plane connected');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(files.socket, () => resolve());
  });
  fs.chmodSync(files.socket, 0o600);
  // Written once the socket listens: a pid file names a router that answers.
  fs.writeFileSync(files.pidFile, `${process.pid}\n`);

  let lastLoad = '';
  const loadTimer = setInterval(() => {
    const counts = countsOf();
    const text = JSON.stringify(counts);
    if (text === lastLoad) return;
    lastLoad = text;
    send({ type: 'load', inFlight: counts });
  }, LOAD_PUSH_MS);

  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'stopping');
    clearInterval(loadTimer);
    server.close();
    await router.stop();
    try {
      if (fs.readFileSync(files.pidFile, 'utf8').trim() === String(process.pid)) fs.rmSync(files.pidFile, { force: true });
    } catch {}
    client?.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  logger.info({ address: router.address() }, 'built-in router started');
}

main().catch((err) => {
  console.error('built-in router failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
