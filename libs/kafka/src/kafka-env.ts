import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envField } from '@aviary/config';
import type { KafkaConnectionOptions } from './kafka-client';

/**
 * Kafka security settings from the environment, shared by every process that talks to Kafka (router,
 * analyzer). Merge into an app's env schema: `schema.extend(KAFKA_SECURITY_ENV)`.
 */
export const KAFKA_SECURITY_ENV = {
  /** TLS to the brokers (system CAs unless KAFKA_SSL_CA_FILE). */
  KAFKA_SSL: envField.bool(false),
  /** PEM file with the CA(s) that signed the brokers' certificates (implies KAFKA_SSL). */
  KAFKA_SSL_CA_FILE: z.string().optional(),
  /** Client certificate and key (PEM files) for mutual TLS. */
  KAFKA_SSL_CERT_FILE: z.string().optional(),
  KAFKA_SSL_KEY_FILE: z.string().optional(),
  KAFKA_SASL_MECHANISM: z
    .enum(['plain', 'scram-sha-256', 'scram-sha-512'], {
      message: 'must be plain, scram-sha-256 or scram-sha-512',
    })
    .optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
};

/** The same fields as a schema of their own (to validate them alone). */
export const KAFKA_SECURITY_SCHEMA = z.object(KAFKA_SECURITY_ENV);
export type KafkaSecurityEnv = z.output<typeof KAFKA_SECURITY_SCHEMA>;

/** Problems with a parsed set (cross-field rules zod's per-field checks cannot express), by variable. */
export function kafkaSecurityProblems(env: KafkaSecurityEnv): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (env.KAFKA_SASL_MECHANISM && (!env.KAFKA_SASL_USERNAME || !env.KAFKA_SASL_PASSWORD)) {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const)
      if (!env[name]) problems.push({ path: name, message: 'is required when KAFKA_SASL_MECHANISM is set' });
  }
  if (Boolean(env.KAFKA_SSL_CERT_FILE) !== Boolean(env.KAFKA_SSL_KEY_FILE))
    problems.push({
      path: env.KAFKA_SSL_CERT_FILE ? 'KAFKA_SSL_KEY_FILE' : 'KAFKA_SSL_CERT_FILE',
      message: 'KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together',
    });
  for (const name of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const) {
    const file = env[name];
    if (!file) continue;
    try {
      readFileSync(file);
    } catch (err) {
      problems.push({
        path: name,
        message: `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      });
    }
  }
  return problems;
}

/** The `ssl` and `sasl` parts of a connection (files are read here, at boot). */
export function kafkaSecurity(env: KafkaSecurityEnv): Pick<KafkaConnectionOptions, 'ssl' | 'sasl'> {
  const files = env.KAFKA_SSL_CA_FILE || env.KAFKA_SSL_CERT_FILE;
  const ssl: KafkaConnectionOptions['ssl'] = files
    ? {
        ...(env.KAFKA_SSL_CA_FILE ? { ca: [readFileSync(env.KAFKA_SSL_CA_FILE, 'utf8')] } : {}),
        ...(env.KAFKA_SSL_CERT_FILE ? { cert: readFileSync(env.KAFKA_SSL_CERT_FILE, 'utf8') } : {}),
        ...(env.KAFKA_SSL_KEY_FILE ? { key: readFileSync(env.KAFKA_SSL_KEY_FILE, 'utf8') } : {}),
      }
    : env.KAFKA_SSL || undefined;
  const m = env.KAFKA_SASL_MECHANISM;
  const sasl =
    m && env.KAFKA_SASL_USERNAME && env.KAFKA_SASL_PASSWORD
      ? { mechanism: m, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD }
      : undefined;
  return { ...(ssl !== undefined ? { ssl } : {}), ...(sasl ? { sasl } : {}) };
}
