/** What the API faces call for log sinks, notification integrations and uptime checks. */
import type { LogSinksService } from './sinks/log-sinks-service.ts';
import type { NotificationsService } from './alerts/notifications-service.ts';
import type { UptimeChecksService } from './alerts/uptime-checks.ts';

export interface ObserveApi {
  sinks: LogSinksService;
  notifications: NotificationsService;
  uptime: UptimeChecksService;
}
