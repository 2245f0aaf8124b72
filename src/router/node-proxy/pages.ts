/** The router's own answers: small HTML pages for 401, 403, 404, 502, 503 (no instance / maintenance) and 504. */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(status: number, title: string, text: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${status} ${title}</title></head><body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem"><h1>${title}</h1><p>${text}</p><p style="color:#666">slipway</p></body></html>`;
}

export const pages = {
  notFound: (host: string) => page(404, 'Not found', `No service answers at <code>${escapeHtml(host)}</code>.`),
  noInstance: () => page(503, 'Service unavailable', 'No instance of this service is ready yet. Try again in a moment.'),
  maintenance: () => page(503, 'Down for maintenance', 'This service is scaled to zero for maintenance. It will be back soon.'),
  badGateway: () => page(502, 'Bad gateway', 'The service did not answer properly.'),
  timeout: () => page(504, 'Gateway timeout', 'The service took too long to answer.'),
  forbidden: () => page(403, 'Forbidden', 'The access policy of this service does not let this request through.'),
  unauthorized: () => page(401, 'Authentication required', 'This service asks for a user name and password.'),
};
