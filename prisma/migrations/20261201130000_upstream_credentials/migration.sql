-- Upstream credentials: a version's apiKeyRef names an admin-declared credential (auth scheme and the
-- hosts it may be sent to), no longer any env var of the process.

-- CreateTable
CREATE TABLE "upstream_credentials" (
    "name" TEXT NOT NULL,
    "auth_scheme" TEXT NOT NULL,
    "allowed_hosts" TEXT[],
    "description" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "upstream_credentials_pkey" PRIMARY KEY ("name")
);

-- Existing references become credentials bound to the hosts their versions already call, so an
-- upgrade keeps routing (the secret now comes from AVIARY_UPSTREAM_KEY_<NAME>; see README).
INSERT INTO "upstream_credentials" ("name", "auth_scheme", "allowed_hosts", "description", "created_by")
SELECT "api_key_ref", 'bearer',
       array_agg(DISTINCT lower(substring("upstream_base_url" from '^[a-zA-Z]+://(?:[^@/]*@)?([^/?#]+)'))),
       'created by the upgrade from the versions that referenced it', 'aviary-migration'
FROM "model_versions"
WHERE "api_key_ref" IS NOT NULL
GROUP BY "api_key_ref";

-- CreateIndex
CREATE INDEX "model_versions_api_key_ref_idx" ON "model_versions"("api_key_ref");

-- AddForeignKey
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_api_key_ref_fkey" FOREIGN KEY ("api_key_ref") REFERENCES "upstream_credentials"("name") ON DELETE RESTRICT ON UPDATE RESTRICT;
