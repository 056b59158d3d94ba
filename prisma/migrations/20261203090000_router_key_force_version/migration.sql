-- Who may force a version with the debug header is a property of a router key, set through the
-- admin API, instead of only a list in every router's environment.

-- AlterTable
ALTER TABLE "router_keys" ADD COLUMN "may_force_version" BOOLEAN NOT NULL DEFAULT false;
