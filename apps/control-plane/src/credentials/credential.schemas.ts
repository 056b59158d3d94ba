import { z } from 'zod';
import { CREDENTIAL_NAME, UPSTREAM_AUTH_SCHEMES } from '@aviary/config';

/** `api.openai.com`, `vllm-b:8000`, `*.openai.azure.com`: a host (and port) a credential may be sent to. */
const HOST_ENTRY =
  /^(\*\.)?(?=.{1,253}(:|$))[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/;

export const createCredentialSchema = z.strictObject({
  name: z
    .string()
    .regex(
      CREDENTIAL_NAME,
      "must be 1-63 letters, digits, '_' or '-', starting with a letter or digit (it is also the secret's file name)",
    ),
  authScheme: z.enum(UPSTREAM_AUTH_SCHEMES).default('bearer'),
  allowedHosts: z
    .array(
      z
        .string()
        .trim()
        .toLowerCase()
        .regex(HOST_ENTRY, 'must be a host name, host:port or *.domain (no scheme, path or credentials)'),
    )
    .min(1, 'name at least one upstream host the key is meant for')
    .max(50),
  description: z.string().max(2000).optional(),
});
export type CreateCredentialInput = z.output<typeof createCredentialSchema>;
