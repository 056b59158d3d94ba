-- A version may carry its system prompt (a template with {{variables}}) and decoding parameters:
-- defaults (applied when a request does not set them) and enforced ones (always applied). A
-- prompt-only change is then a version, rolled out like a model change.

-- AlterTable
ALTER TABLE "model_versions" ADD COLUMN     "system_prompt" TEXT,
ADD COLUMN     "prompt_variables" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "default_parameters" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "enforced_parameters" JSONB NOT NULL DEFAULT '{}';
