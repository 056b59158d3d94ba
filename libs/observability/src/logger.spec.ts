import { lineCapture as capture } from '@aviary/testing';
import { createLogger } from './logger';

describe(createLogger.name, () => {
  it('writes one JSON object per line with service, level, time and message by default', () => {
    const { lines, output } = capture();
    const log = createLogger({ service: 'aviary-test', level: 'info', format: 'json', output });
    log.info({ context: 'Boot' }, 'hello');
    log.debug('not at info');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ service: 'aviary-test', level: 30, msg: 'hello', context: 'Boot' });
    expect(line['time']).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes readable lines, not JSON, when pretty', () => {
    const { lines, output } = capture();
    createLogger({ service: 'aviary-test', level: 'info', format: 'pretty', output }).warn(
      { context: 'Boot' },
      'embedded PostgreSQL ready',
    );
    expect(lines.join('\n')).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN.*embedded PostgreSQL ready/);
    expect(() => JSON.parse(lines[0]!) as unknown).toThrow();
  });

  it('keeps a pretty request line to one line: the context as a prefix, no req/res dump', () => {
    const { lines, output } = capture();
    createLogger({ service: 'aviary-test', level: 'info', format: 'pretty', output }).info(
      {
        context: 'Flags',
        reqId: 'r-1',
        req: { method: 'GET', url: '/x' },
        res: { statusCode: 200 },
        responseTime: 3,
      },
      'GET /x 200',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/INFO: \[Flags\] GET \/x 200$/);
  });
});
