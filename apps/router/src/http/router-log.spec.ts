import { createLogger } from '@aviary/observability';
import { lineCapture } from '@aviary/testing';
import { pinoLog } from './router-log';

describe(pinoLog.name, () => {
  it("writes a request's fields into its line, beside service, level and message", () => {
    const { lines, output } = lineCapture();
    const log = pinoLog(createLogger({ service: 'aviary-router', level: 'info', format: 'json', output }));
    log('warn', 'upstream v2 (candidate) failed', { requestId: 'avy-1', errorClass: 'timeout' });
    log('info', 'flag source reachable again');
    log('debug', 'below the level');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      expect.objectContaining({
        service: 'aviary-router',
        level: 40,
        msg: 'upstream v2 (candidate) failed',
        requestId: 'avy-1',
        errorClass: 'timeout',
      }),
      expect.objectContaining({ level: 30, msg: 'flag source reachable again' }),
    ]);
  });
});
