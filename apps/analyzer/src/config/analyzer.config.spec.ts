import { EnvValidationError } from '@aviary/config';
import { loadAnalyzerConfig } from './analyzer.config';

describe(loadAnalyzerConfig.name, () => {
  it('applies the defaults around the two required variables', () => {
    expect(
      loadAnalyzerConfig({
        DATABASE_URL: 'postgresql://a@db:5432/aviary',
        KAFKA_BROKERS: 'k1:9092, k2:9092',
      }),
    ).toMatchObject({
      KAFKA_BROKERS: ['k1:9092', 'k2:9092'],
      AVIARY_ANALYZER_GROUP_ID: 'aviary-analyzer',
      AVIARY_ANALYZER_BUCKET_SECONDS: 60,
      AVIARY_ANALYZER_PORT: 8082,
    });
  });

  it('refuses to start without a database and brokers, naming both', () => {
    expect.assertions(3);
    try {
      loadAnalyzerConfig({ AVIARY_ANALYZER_BUCKET_SECONDS: '0' });
    } catch (err) {
      expect(err).toBeInstanceOf(EnvValidationError);
      expect((err as Error).message).toMatch(/DATABASE_URL: is required[\s\S]*KAFKA_BROKERS: is required/);
      expect((err as Error).message).toContain('AVIARY_ANALYZER_BUCKET_SECONDS');
    }
  });
});
