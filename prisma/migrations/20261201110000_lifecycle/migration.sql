-- Lifecycle safety: per-rollout analysis mode, progress deadlines, the watch after completion, a
-- publishing lease (no database connection held while the flag source is called), what the flag
-- source was last seen to hold, and exactly one stable version per model.

-- CreateEnum
CREATE TYPE "AnalysisMode" AS ENUM ('guardrails', 'manual');

-- CreateEnum
CREATE TYPE "WatchStatus" AS ENUM ('watching', 'regressed', 'passed', 'reverted');

-- AlterTable
ALTER TABLE "rollouts" ADD COLUMN     "analysis_mode" "AnalysisMode" NOT NULL DEFAULT 'guardrails',
ADD COLUMN     "deadline_exceeded_at" TIMESTAMPTZ(3),
ADD COLUMN     "watch_started_at" TIMESTAMPTZ(3),
ADD COLUMN     "watch_until" TIMESTAMPTZ(3),
ADD COLUMN     "watch_status" "WatchStatus";

-- AlterTable
ALTER TABLE "flag_publications" ADD COLUMN     "lease_until" TIMESTAMPTZ(3),
ADD COLUMN     "lease_owner" TEXT,
ADD COLUMN     "drift" TEXT,
ADD COLUMN     "drift_detail" TEXT,
ADD COLUMN     "drift_at" TIMESTAMPTZ(3),
ADD COLUMN     "checked_at" TIMESTAMPTZ(3);


-- Hand-written below this line: what Prisma's schema language cannot express.
-- tools/prisma6/diff.sh renders everything above from prisma/schema.prisma; the schema drift test
-- (libs/persistence/src/schema-drift.int-spec.ts) allows exactly these additions.

-- Repair what earlier versions could leave behind (a retry against a stale baseline that then
-- completed marked two versions stable): the version the model names is its one stable version.
UPDATE "model_versions" v SET "status" = 'retired'
 WHERE v."status" = 'stable' AND NOT EXISTS (SELECT 1 FROM "models" m WHERE m."stable_version_id" = v."id");
UPDATE "model_versions" v SET "status" = 'stable'
  FROM "models" m WHERE m."stable_version_id" = v."id" AND v."status" <> 'stable';

-- CreateIndex (partial): at most one stable version per model.
CREATE UNIQUE INDEX "model_versions_one_stable_per_model" ON "model_versions" ("model_id") WHERE "status" = 'stable';

-- Exactly one: at commit, a model with versions names a stable version of its own, and that is the
-- version marked stable (deferred, so one transaction may retire the old and promote the new).
CREATE FUNCTION "aviary_check_stable_version"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mid uuid;
  sid uuid;
BEGIN
  -- Two statements, not one CASE: a row of "models" has no "model_id" to plan an expression with.
  IF TG_TABLE_NAME = 'models' THEN
    mid := NEW."id";
  ELSE
    mid := NEW."model_id";
  END IF;
  SELECT "stable_version_id" INTO sid FROM "models" WHERE "id" = mid;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF sid IS NULL THEN
    IF EXISTS (SELECT 1 FROM "model_versions" WHERE "model_id" = mid) THEN
      RAISE EXCEPTION 'model % has versions but no stable version', mid USING ERRCODE = 'check_violation';
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM "model_versions" WHERE "id" = sid AND "model_id" = mid AND "status" = 'stable') THEN
    RAISE EXCEPTION 'the stable version % of model % must be one of its versions and have status stable', sid, mid
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "models_one_stable_version" AFTER INSERT OR UPDATE OF "stable_version_id" ON "models"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "aviary_check_stable_version"();
CREATE CONSTRAINT TRIGGER "model_versions_one_stable_version" AFTER INSERT OR UPDATE OF "status", "model_id" ON "model_versions"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "aviary_check_stable_version"();
