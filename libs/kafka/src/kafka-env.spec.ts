import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvValidationError, parseEnv } from '@aviary/config';
import { KAFKA_SECURITY_SCHEMA, kafkaSecurity, kafkaSecurityProblems } from './kafka-env';

const dir = mkdtempSync(join(tmpdir(), 'aviary-kafka-env-'));
const ca = join(dir, 'ca.pem');
writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

/** Parses like an app does: per-field checks, then the cross-field rules. */
function load(env: Record<string, string>) {
  return parseEnv(
    'test',
    KAFKA_SECURITY_SCHEMA.superRefine((c, ctx) => {
      for (const p of kafkaSecurityProblems(c))
        ctx.addIssue({ code: 'custom', path: [p.path], message: p.message });
    }),
    env,
  );
}

describe('Kafka security from the environment', () => {
  it.each<[string, Record<string, string>, ReturnType<typeof kafkaSecurity>]>([
    ['plaintext by default', {}, {}],
    ['TLS with the system CAs', { KAFKA_SSL: 'true' }, { ssl: true }],
    [
      'TLS with a CA file',
      { KAFKA_SSL_CA_FILE: ca },
      { ssl: { ca: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'] } },
    ],
    [
      'SASL/SCRAM over TLS',
      {
        KAFKA_SSL: 'true',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'aviary',
        KAFKA_SASL_PASSWORD: 's3cret',
      },
      { ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'aviary', password: 's3cret' } },
    ],
  ])('%s', (_name, env, expected) => {
    expect(kafkaSecurity(load(env))).toEqual(expected);
  });

  it.each<[string, Record<string, string>, string[]]>([
    [
      'a SASL mechanism without credentials',
      { KAFKA_SASL_MECHANISM: 'plain' },
      [
        'KAFKA_SASL_USERNAME: is required when KAFKA_SASL_MECHANISM is set',
        'KAFKA_SASL_PASSWORD: is required when KAFKA_SASL_MECHANISM is set',
      ],
    ],
    [
      'an unknown mechanism',
      { KAFKA_SASL_MECHANISM: 'gssapi' },
      ['KAFKA_SASL_MECHANISM: must be plain, scram-sha-256 or scram-sha-512 (got "gssapi")'],
    ],
    [
      'a certificate without its key',
      { KAFKA_SSL_CERT_FILE: ca },
      ['KAFKA_SSL_KEY_FILE: KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together'],
    ],
    [
      'a CA file that is not there',
      { KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') },
      [`KAFKA_SSL_CA_FILE: cannot read it: ENOENT (got "${join(dir, 'missing.pem')}")`],
    ],
  ])('refuses %s and names the variable', (_name, env, problems) => {
    let error: unknown;
    try {
      load(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvValidationError);
    expect((error as EnvValidationError).problems).toEqual(problems);
  });
});
