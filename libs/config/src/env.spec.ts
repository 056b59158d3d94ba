import { z } from 'zod';
import { EnvValidationError, envField, parseEnv } from './env';

const schema = z.object({
  PORT: envField.port(8080),
  DATABASE_URL: envField.postgresUrl().optional(),
  SECRET_TOKEN: z.string().min(24).optional(),
  FLAG: envField.bool(false),
});

describe(parseEnv.name, () => {
  it('applies defaults when variables are unset or empty', () => {
    expect(parseEnv('test', schema, { PORT: '' })).toEqual({ PORT: 8080, FLAG: false });
  });

  it('coerces and validates values', () => {
    expect(parseEnv('test', schema, { PORT: '9000', FLAG: 'yes' })).toMatchObject({ PORT: 9000, FLAG: true });
  });

  it('names every bad variable in one message', () => {
    expect.assertions(3);
    try {
      parseEnv('control-plane', schema, { PORT: 'eighty', DATABASE_URL: 'mysql://x' });
    } catch (err) {
      expect(err).toBeInstanceOf(EnvValidationError);
      expect((err as Error).message).toContain('PORT');
      expect((err as Error).message).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
    }
  });

  it('says plainly that a required variable is missing', () => {
    const required = z.object({ KAFKA_BROKERS: envField.csv() });
    expect(() => parseEnv('analyzer', required, { KAFKA_BROKERS: ' ' })).toThrow(
      'KAFKA_BROKERS: is required but not set',
    );
  });

  it('never echoes secrets back', () => {
    expect(() => parseEnv('test', schema, { SECRET_TOKEN: 'short' })).toThrow(/SECRET_TOKEN.*\*\*\*/);
  });
});
