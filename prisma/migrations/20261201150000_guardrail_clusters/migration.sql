-- Rollout-wide guardrails: per-cluster running totals (variance between user clusters), ratings by
-- the minute their answer was served (feedback window), and the revision each attempt began with
-- (the guardrails pool every step of the attempt).

-- AlterTable
ALTER TABLE "rollouts" ADD COLUMN     "attempt_revision" INTEGER;

-- CreateTable
CREATE TABLE "analysis_cluster_totals" (
    "rollout_id" UUID NOT NULL,
    "revision" INTEGER NOT NULL,
    "version_id" UUID NOT NULL,
    "role" TEXT NOT NULL,
    "cluster" SMALLINT NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "errors" INTEGER NOT NULL DEFAULT 0,
    "refusals" INTEGER NOT NULL DEFAULT 0,
    "silent_failures" INTEGER NOT NULL DEFAULT 0,
    "feedback" INTEGER NOT NULL DEFAULT 0,
    "thumbs_down" INTEGER NOT NULL DEFAULT 0,
    "tokens_n" INTEGER NOT NULL DEFAULT 0,
    "tokens_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "analysis_cluster_totals_pkey" PRIMARY KEY ("rollout_id","revision","version_id","role","cluster")
);

-- CreateTable
CREATE TABLE "analysis_feedback_minutes" (
    "rollout_id" UUID NOT NULL,
    "served_minute" TIMESTAMPTZ(3) NOT NULL,
    "revision" INTEGER NOT NULL,
    "version_id" UUID NOT NULL,
    "role" TEXT NOT NULL,
    "feedback" INTEGER NOT NULL DEFAULT 0,
    "thumbs_down" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "analysis_feedback_minutes_pkey" PRIMARY KEY ("rollout_id","served_minute","revision","version_id","role")
);
