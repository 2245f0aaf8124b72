/**
 * An instance's kept output, as both drivers write it: one JSON object `{ ts, stream, line }` per line.
 * Lines that are not such an object (a write cut short by a crash) are skipped.
 */
import type { LogLine } from './driver.ts';

export function parseLogLines(instanceId: string, text: string): LogLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        const o = JSON.parse(l) as { ts: string; stream: 'stdout' | 'stderr'; line: string };
        return [{ instanceId, ts: o.ts, stream: o.stream, line: o.line }];
      } catch {
        return [];
      }
    });
}
