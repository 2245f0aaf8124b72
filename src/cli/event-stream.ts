/**
 * A minimal Server-Sent Events reader over fetch's body stream (the WHATWG event-stream format: frames
 * separated by a blank line, `event:`, `data:` (joined with newlines), `id:`; lines starting `:` are
 * comments).
 */

export interface SseFrame {
  event: string;
  data: string;
  id?: string;
}

export async function* readEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buf = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const frame = parseFrame(buf.slice(0, cut));
        buf = buf.slice(cut + 2);
        if (frame) yield frame;
      }
    }
    const last = parseFrame(buf);
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}

function parseFrame(text: string): SseFrame | undefined {
  let event = 'message';
  const data: string[] = [];
  let id: string | undefined;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (!data.length && event === 'message') return undefined;
  return { event, data: data.join('\n'), id };
}
