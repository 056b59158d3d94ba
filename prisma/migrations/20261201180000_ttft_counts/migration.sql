-- Streamed answers' time to first token per arm (the ttftP95 guardrail), like latency_counts.

-- AlterTable
ALTER TABLE "analysis_aggregates" ADD COLUMN     "ttft_counts" INTEGER[] DEFAULT ARRAY[]::INTEGER[];
