import { EnvValidationError } from '@aviary/config';
import { activeTracer, loadTracingConfig, startTracing } from './tracing';

describe(loadTracingConfig.name, () => {
  it.each([
    ['nothing set: off', {}, null],
    [
      'the base endpoint gets /v1/traces',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' },
      'http://otel:4318/v1/traces',
    ],
    [
      '…also after a trailing slash',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/' },
      'http://otel:4318/v1/traces',
    ],
    [
      'the traces endpoint is used as it is, over the base one',
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/x',
      },
      'http://jaeger:4318/x',
    ],
    [
      'OTEL_SDK_DISABLED turns it off',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', OTEL_SDK_DISABLED: 'true' },
      null,
    ],
    [
      'OTEL_TRACES_EXPORTER=none turns it off',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', OTEL_TRACES_EXPORTER: 'none' },
      null,
    ],
  ])('%s', (_name, env: Record<string, string>, url) => {
    expect(loadTracingConfig(env).tracesUrl).toBe(url);
  });

  it('samples every trace that has no sampled parent by default, and reads the ratio', () => {
    expect(loadTracingConfig({})).toMatchObject({ sampler: 'parentbased_always_on', samplerRatio: 1 });
    expect(
      loadTracingConfig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
    ).toMatchObject({ sampler: 'parentbased_traceidratio', samplerRatio: 0.1 });
  });

  it.each([
    ['OTEL_TRACES_SAMPLER', 'jaeger_remote'],
    ['OTEL_TRACES_SAMPLER_ARG', '2'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'otel:4318'],
    ['OTEL_TRACES_EXPORTER', 'zipkin'],
  ])('refuses a bad %s, naming it', (name, value) => {
    expect(() => loadTracingConfig({ [name]: value })).toThrow(EnvValidationError);
    expect(() => loadTracingConfig({ [name]: value })).toThrow(name);
  });
});

describe(startTracing.name, () => {
  it('starts nothing when off: no tracer to allocate spans with', async () => {
    const tracing = await startTracing(loadTracingConfig({}), { service: 'aviary-test' });
    expect(tracing.enabled).toBe(false);
    expect(activeTracer('aviary-test')).toBeNull();
    await tracing.shutdown();
  });

  it('hands out tracers while on and none after shutdown', async () => {
    // Port 9 (discard): nothing is ended here, so nothing is sent.
    const tracing = await startTracing(
      loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }),
      {
        service: 'aviary-test',
      },
    );
    expect(tracing.enabled).toBe(true);
    expect(activeTracer('aviary-test')).not.toBeNull();
    await tracing.shutdown();
    expect(activeTracer('aviary-test')).toBeNull();
  });
});
