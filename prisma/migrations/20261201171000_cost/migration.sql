-- Cost: a version's prices (USD per million prompt and completion tokens; null = unknown), and the
-- analyzer's cost counters per arm and per user cluster (the router's costUsd per answered request),
-- plus the useful answers per arm (neither an error, a refusal nor a silent failure).

-- AlterTable
ALTER TABLE "model_versions" ADD COLUMN     "input_usd_per_mtok" DOUBLE PRECISION,
ADD COLUMN     "output_usd_per_mtok" DOUBLE PRECISION;

-- AlterTable
ALTER TABLE "analysis_aggregates" ADD COLUMN     "cost_n" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "cost_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "cost_sum_sq" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "useful_answers" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "analysis_cluster_totals" ADD COLUMN     "cost_n" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "cost_sum" DOUBLE PRECISION NOT NULL DEFAULT 0;
