-- A watch that ended without every guardrail's minimum samples is inconclusive, not passed.

-- AlterEnum
ALTER TYPE "WatchStatus" ADD VALUE 'inconclusive';
