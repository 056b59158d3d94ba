import { type DecodingParameters, type VersionForDiff } from '@aviary/domain';
import { type Prisma } from '@aviary/persistence';
import { type VersionRecord } from './model.repository';

/**
 * What a version does with a request, as the API shows it and the diff compares it: where it goes
 * and what is sent with it (JSON columns as objects; they only ever hold what the API validated).
 */
export function versionSettings(v: VersionRecord): VersionForDiff {
  const map = <T>(value: Prisma.JsonValue): T =>
    (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as T;
  return {
    label: v.label,
    upstreamBaseUrl: v.upstreamBaseUrl,
    upstreamModel: v.upstreamModel,
    timeoutMs: v.timeoutMs,
    apiKeyRef: v.apiKeyRef,
    endpoints: v.endpoints.length > 0 ? v.endpoints : null,
    maxResponseBytes: v.maxResponseBytes,
    totalTimeoutMs: v.totalTimeoutMs,
    systemPrompt: v.systemPrompt,
    promptVariables: map<Record<string, string>>(v.promptVariables),
    defaultParameters: map<DecodingParameters>(v.defaultParameters),
    enforcedParameters: map<DecodingParameters>(v.enforcedParameters),
  };
}
