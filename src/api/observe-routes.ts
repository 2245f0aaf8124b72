/** The routes of log sinks, notification integrations and uptime checks (docs/logs.md, docs/alerts.md). */
import type { Api } from './deps.ts';
import type { ObserveApi } from '../observe/observe-api.ts';
import { registerV1LogSinks } from './v1/log-sinks.ts';
import { registerV1Notifications } from './v1/notifications.ts';
import { registerNativeAlerts } from './native/alerts.ts';

export function registerObserve(app: Api, observe: ObserveApi): void {
  registerV1LogSinks(app, observe.sinks);
  registerV1Notifications(app, observe.notifications);
  registerNativeAlerts(app, observe);
}
