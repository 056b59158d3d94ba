-- Router key budgets count every router's usage, not each replica's own: routers report the
-- tokens and requests each key used per UTC day, and read back the totals.

-- CreateTable
CREATE TABLE "router_key_usage" (
    "key_id" UUID NOT NULL,
    "day" DATE NOT NULL,
    "tokens" BIGINT NOT NULL DEFAULT 0,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "router_key_usage_pkey" PRIMARY KEY ("key_id","day")
);

-- CreateTable
CREATE TABLE "router_usage_reports" (
    "id" UUID NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "router_usage_reports_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "router_usage_reports_received_at_idx" ON "router_usage_reports"("received_at");

-- AddForeignKey
ALTER TABLE "router_key_usage" ADD CONSTRAINT "router_key_usage_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "router_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;
