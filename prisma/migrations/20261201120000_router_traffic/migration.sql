-- The router speaks more of the OpenAI API: a version declares the endpoints its upstream serves
-- (empty = all) and may cap the size and the total time of its answers (null = the router's default).

-- AlterTable
ALTER TABLE "model_versions" ADD COLUMN     "endpoints" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "max_response_bytes" INTEGER,
ADD COLUMN     "total_timeout_ms" INTEGER;
