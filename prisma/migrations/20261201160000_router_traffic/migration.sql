-- The router speaks more of the OpenAI API: a version declares the endpoints its upstream serves
-- (empty = all) and may cap the size and the total time of its answers (null = the router's default).

-- AlterTable
ALTER TABLE "model_versions" ADD COLUMN     "endpoints" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "max_response_bytes" INTEGER,
ADD COLUMN     "total_timeout_ms" INTEGER;

-- Router API keys: clients call the router with a key (hashed here, shown once), scoped to models,
-- with per-key limits; routers poll the active ones.

-- CreateTable
CREATE TABLE "router_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "models" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "requests_per_minute" INTEGER,
    "tokens_per_day" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "router_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "router_keys_name_key" ON "router_keys"("name");

-- CreateIndex
CREATE UNIQUE INDEX "router_keys_key_hash_key" ON "router_keys"("key_hash");
