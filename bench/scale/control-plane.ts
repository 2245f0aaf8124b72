/**
 * The control plane bench/scale.ts measures: the real platform (store, API, controllers, HAProxy data plane)
 * started from the environment as `npm start` does, but with the RUNTIME STAND-IN (stand-in-driver.ts) in
 * place of the process runtime. Runs in a process of its own so its CPU and memory are its own; the
 * instance host is a child of it. Prints `control-plane ready <json>` once the API answers.
 *   BENCH_PER_SERVICE_LIST=0 leaves the driver's per-service listing out (the "before" of that fix).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { startPlatform } from '../../src/main.ts';
import { StandInDriver } from './stand-in-driver.ts';

const config = loadConfig();
const logger = pino({ level: config.logLevel });
const driver = new StandInDriver({ perServiceList: process.env.BENCH_PER_SERVICE_LIST !== '0' });
const platform = await startPlatform(config, logger, { driver });
process.stdout.write(`control-plane ready ${JSON.stringify({ apiUrl: platform.apiUrl, routerPort: platform.routerPort, hostPid: driver.hostPid, pid: process.pid })}\n`);

// The event loop's delays (what an API request waits behind), from 'loop-delay-reset' to 'loop-delay'.
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
process.on('message', (m: { op: string }) => {
  if (m.op === 'host-stats') void driver.hostStats().then((s) => process.send?.({ op: 'host-stats', ...s }));
  if (m.op === 'loop-delay-reset') loopDelay.reset();
  if (m.op === 'loop-delay') process.send?.({ op: 'loop-delay', maxMs: loopDelay.max / 1e6, p99Ms: loopDelay.percentile(99) / 1e6 });
});
const shutdown = async () => {
  await platform.stop();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
