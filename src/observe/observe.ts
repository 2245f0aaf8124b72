/**
 * Logs, log sinks and alerts, started under their leases (src/main.ts): the collector follows every service instance's output
 * into the archive and to the sinks; the dispatcher turns events into alerts; the uptime checker probes
 * public ports. Stopped in reverse order.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Store } from '../store/store.ts';
import type { SecretBox } from '../store/secret-box.ts';
import { LogLinesRepo } from '../store/log-lines-repo.ts';
import { SharedLogs } from '../replicas/shared-logs.ts';
import type { AuthService } from '../services/auth.ts';
import type { RuntimeDriver } from '../runtime/driver.ts';
import { LogSinksRepo } from '../store/log-sinks-repo.ts';
import { AlertsRepo } from '../store/alerts-repo.ts';
import { LogArchive } from './logs/log-archive.ts';
import { LogCollector } from './logs/log-collector.ts';
import { LogsService } from './logs/logs-service.ts';
import { LogSinksService } from './sinks/log-sinks-service.ts';
import { NotificationsService } from './alerts/notifications-service.ts';
import { AlertDispatcher } from './alerts/alert-dispatcher.ts';
import { UptimeChecker, UptimeChecksService } from './alerts/uptime-checks.ts';
import type { ObserveApi } from './observe-api.ts';

/** Work that runs on one replica at a time, under a lease (docs/high-availability.md). */
export interface SingletonWork {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Observe {
  logs: LogsService;
  api: ObserveApi;
  /** the log collector with the log sinks it feeds (lease `logs`), and the alert dispatcher with the uptime checker (lease `alerts`) */
  work: { logs: SingletonWork; alerts: SingletonWork };
  /** stops what runs on every replica (the shared log lines' upkeep); the work above stops with its leases */
  stop(): Promise<void>;
}

export async function startObserve(deps: {
  config: Readonly<Config>;
  store: Store;
  box: SecretBox;
  auth: AuthService;
  driver: RuntimeDriver;
  routerAddress: () => { httpPort: number };
  logger: Logger;
}): Promise<Observe> {
  const { config, store, box, auth, driver, logger } = deps;
  const dir = path.join(config.dataDir, 'log-archive');
  const archive = new LogArchive(dir, { maxAgeSeconds: config.logMaxAgeSeconds, maxBytes: config.logMaxBytes });
  const collector = new LogCollector(driver, archive, { dir, logger });
  const sinks = new LogSinksService(new LogSinksRepo(store.db, box), auth, collector, { bufferLines: config.logSinkBufferLines, logger });
  const alertsRepo = new AlertsRepo(store.db, box);
  const dispatcher = new AlertDispatcher(alertsRepo, { logger });
  const checker = new UptimeChecker(store, alertsRepo, dispatcher, { domain: config.domain, routerPort: () => deps.routerAddress().httpPort, timeScale: config.uptimeTimeScale, logger });

  // Several control planes on one PostgreSQL database: lines go to the store too, and reads come from there.
  const shared = config.databaseUrl ? new SharedLogs(new LogLinesRepo(store.db), { maxAgeSeconds: config.logMaxAgeSeconds, logger }) : undefined;
  const unshare = shared ? collector.subscribe((e) => shared.append(e)) : undefined;
  shared?.start();
  return {
    logs: new LogsService(store, auth, collector, shared),
    api: { sinks, notifications: new NotificationsService(alertsRepo, auth), uptime: new UptimeChecksService(store, alertsRepo, auth) },
    work: {
      logs: {
        async start() {
          await sinks.start();
          collector.start();
        },
        async stop() {
          await collector.stop();
          await sinks.stop();
        },
      },
      alerts: {
        async start() {
          await dispatcher.start();
          checker.start();
        },
        async stop() {
          await checker.stop();
          await dispatcher.stop();
        },
      },
    },
    async stop() {
      unshare?.();
      await shared?.stop();
    },
  };
}
