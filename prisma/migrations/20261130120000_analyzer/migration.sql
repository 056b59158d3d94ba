-- The analyzer: evidence aggregates, shadow comparison, deduplication of redelivered events, and the
-- routing revision each rollout step started with.

-- AlterTable
ALTER TABLE "rollouts" ADD COLUMN     "golden_result" JSONB,
ADD COLUMN     "golden_set" JSONB,
ADD COLUMN     "shadow_gate" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "step_revision" INTEGER;

-- CreateTable
CREATE TABLE "analysis_aggregates" (
    "rollout_id" UUID NOT NULL,
    "revision" INTEGER NOT NULL,
    "version_id" UUID NOT NULL,
    "role" TEXT NOT NULL,
    "bucket_start" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "errors" INTEGER NOT NULL DEFAULT 0,
    "refusals" INTEGER NOT NULL DEFAULT 0,
    "silent_failures" INTEGER NOT NULL DEFAULT 0,
    "feedback" INTEGER NOT NULL DEFAULT 0,
    "thumbs_down" INTEGER NOT NULL DEFAULT 0,
    "tokens_n" INTEGER NOT NULL DEFAULT 0,
    "tokens_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "tokens_sum_sq" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "latency_counts" INTEGER[],
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "analysis_aggregates_pkey" PRIMARY KEY ("rollout_id","revision","version_id","role","bucket_start")
);

-- CreateTable
CREATE TABLE "analysis_pair_aggregates" (
    "rollout_id" UUID NOT NULL,
    "revision" INTEGER NOT NULL,
    "bucket_start" TIMESTAMPTZ(3) NOT NULL,
    "pairs" INTEGER NOT NULL DEFAULT 0,
    "comparable" INTEGER NOT NULL DEFAULT 0,
    "exact_matches" INTEGER NOT NULL DEFAULT 0,
    "similarity_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "similarity_sum_sq" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "length_ratio_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "shadow_only_refusals" INTEGER NOT NULL DEFAULT 0,
    "baseline_only_refusals" INTEGER NOT NULL DEFAULT 0,
    "json_pairs" INTEGER NOT NULL DEFAULT 0,
    "shadow_invalid_json" INTEGER NOT NULL DEFAULT 0,
    "baseline_invalid_json" INTEGER NOT NULL DEFAULT 0,
    "shadow_errors" INTEGER NOT NULL DEFAULT 0,
    "judge_wins" INTEGER NOT NULL DEFAULT 0,
    "judge_ties" INTEGER NOT NULL DEFAULT 0,
    "judge_losses" INTEGER NOT NULL DEFAULT 0,
    "judge_errors" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "analysis_pair_aggregates_pkey" PRIMARY KEY ("rollout_id","revision","bucket_start")
);

-- CreateTable
CREATE TABLE "analysis_pair_samples" (
    "id" BIGSERIAL NOT NULL,
    "rollout_id" UUID NOT NULL,
    "request_id" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "prompt" JSONB,
    "baseline_output" TEXT,
    "shadow_output" TEXT,
    "similarity" DOUBLE PRECISION,
    "baseline_refusal" BOOLEAN NOT NULL,
    "shadow_refusal" BOOLEAN NOT NULL,

    CONSTRAINT "analysis_pair_samples_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "analysis_seen_events" (
    "kind" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "analysis_seen_events_pkey" PRIMARY KEY ("kind","request_id","role")
);

-- CreateIndex
CREATE INDEX "analysis_pair_samples_rollout_id_id_idx" ON "analysis_pair_samples"("rollout_id", "id");

-- CreateIndex
CREATE INDEX "analysis_seen_events_seen_at_idx" ON "analysis_seen_events"("seen_at");
