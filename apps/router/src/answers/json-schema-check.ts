import Ajv, { type ValidateFunction } from 'ajv';

/** Schemas larger than this (serialised) are not compiled: the answer is only checked to be JSON. */
const MAX_SCHEMA_CHARS = 64 * 1024;
const CACHE_SIZE = 256;

/**
 * Validates `json_schema` answers against the request's schema (Ajv, compiled once per distinct
 * schema and cached: an app sends the same few schemas again and again). Lenient on purpose: unknown
 * keywords and formats are ignored, as OpenAI's structured outputs accept a subset of JSON Schema.
 */
export class JsonSchemaCheck {
  private readonly ajv = new Ajv({
    strict: false,
    validateSchema: false,
    validateFormats: false,
    allErrors: false,
    logger: false,
  });
  private readonly compiled = new Map<string, ValidateFunction | null>();

  /** true / false: the value matches / does not match; null: the schema cannot be used. */
  matches(schema: unknown, value: unknown): boolean | null {
    const validate = this.compile(schema);
    if (!validate) return null;
    try {
      return validate(value);
    } catch {
      return false; // e.g. a value nested too deeply for the validator's recursion: not what was asked for
    }
  }

  private compile(schema: unknown): ValidateFunction | null {
    if (typeof schema !== 'object' || schema === null) return null;
    let key: string;
    try {
      key = JSON.stringify(schema);
    } catch {
      return null;
    }
    if (key.length > MAX_SCHEMA_CHARS) return null;
    const hit = this.compiled.get(key);
    if (hit !== undefined) {
      // Least recently used goes first: move the hit to the end.
      this.compiled.delete(key);
      this.compiled.set(key, hit);
      return hit;
    }
    let validate: ValidateFunction | null;
    try {
      validate = this.ajv.compile(schema);
    } catch {
      validate = null; // not a schema Ajv can compile: checked as JSON only
    }
    this.compiled.set(key, validate);
    if (this.compiled.size > CACHE_SIZE) this.compiled.delete(this.compiled.keys().next().value as string);
    return validate;
  }
}
