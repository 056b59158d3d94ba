-- Evidence events the analyzer could not store even one at a time: parked, so their partition moves on.

-- CreateTable
CREATE TABLE "analysis_dead_letters" (
    "id" BIGSERIAL NOT NULL,
    "topic" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "analysis_dead_letters_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "analysis_dead_letters_received_at_idx" ON "analysis_dead_letters"("received_at");
