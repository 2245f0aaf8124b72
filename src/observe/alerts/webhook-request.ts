/**
 * The request a notification integration sends for an alert. `RAW_WEBHOOK` follows Northflank's webhook
 * format: a JSON body `{ event, data }` and the headers `X-Northflank-Notification-Integration-Id`, `-Name`,
 * `-Token` (the secret, as Northflank sends it), `-Event-Id` and `-Event-Type`. slipway adds
 * `X-Slipway-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>` and
 * `X-Slipway-Delivery` (the delivery id, the same on every retry). Discord, Teams and Teams workflows get
 * their own message shapes with the alert in words (they take no secret).
 */
import { createHmac } from 'node:crypto';

export interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
}

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function summaryOf(payload: { event: string; data: Record<string, unknown> }): string {
  const d = payload.data;
  const where = [d.projectId, d.serviceId].filter(Boolean).join('/');
  return `[slipway] ${payload.event}${where ? ` ${where}` : ''}: ${String(d.message ?? '')}`.slice(0, 1900);
}

export function webhookRequest(n: { id: string; name: string; type: string; secret: string | null }, delivery: { id: string }, payload: { event: string; data: Record<string, unknown> }): WebhookRequest {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'slipway-alerts' };
  if (n.type === 'DISCORD') return { headers, body: JSON.stringify({ content: summaryOf(payload) }) };
  if (n.type === 'TEAMS') return { headers, body: JSON.stringify({ '@type': 'MessageCard', '@context': 'http://schema.org/extensions', summary: payload.event, text: summaryOf(payload) }) };
  if (n.type === 'TEAMS_WORKFLOWS') {
    const card = { type: 'AdaptiveCard', version: '1.4', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', body: [{ type: 'TextBlock', text: summaryOf(payload), wrap: true }] };
    return { headers, body: JSON.stringify({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }] }) };
  }
  const body = JSON.stringify(payload);
  headers['x-northflank-notification-integration-id'] = n.id;
  headers['x-northflank-notification-integration-name'] = n.name;
  headers['x-northflank-notification-integration-event-id'] = delivery.id;
  headers['x-northflank-notification-integration-event-type'] = payload.event;
  headers['x-slipway-delivery'] = delivery.id;
  if (n.secret) {
    headers['x-northflank-notification-integration-token'] = n.secret;
    headers['x-slipway-signature'] = signBody(n.secret, body);
  }
  return { headers, body };
}
