import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../src/observability/logger.js';

/** A real pino logger whose JSON lines are kept for assertions. */
export function capturedLogger(level = 'info'): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger(level, stream);
  return {
    logger,
    lines: () =>
      raw
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
