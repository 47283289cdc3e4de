-- Trigger cost per run on SQLite (a micro-measure, not a target): the triggers a run's writes pay, on a copy of a migrated database.
-- Usage: sqlite3 COPY.db < bench/Steward.Web.Bench/trigger-cost.sql   (rolls back; compare the last three timings between schemas).
.timer on
BEGIN;
CREATE TEMP TABLE n AS WITH RECURSIVE q(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM q WHERE i < 19999) SELECT i FROM q;
INSERT INTO sessions ("Id", "Title", "PresetName", "CreatedAt", "UpdatedAt") VALUES ('00000000-0000-7000-a000-000000000001', 'micro', 'tech_advisor', '2026-11-25 10:00:00', '2026-11-25 10:00:00');
INSERT INTO runs ("Id", "SessionId", "PresetName", "PresetVersion", "Provider", "Model", "Query", "Status", "StartedAt", "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "FromCache", "Owner", "Purpose", "UsageEstimated", "UserId")
SELECT printf('00000000-0000-7000-b000-%012X', i), '00000000-0000-7000-a000-000000000001', 'tech_advisor', 'v1', 'bench', 'gpt-4o', 'q ' || i, 'Running', '2026-11-25 10:00:00', 0, 0, 0, 0, 0, 'micro', 'agent', 0, 'user-' || (i % 40) FROM n;
INSERT INTO run_tags ("RunId", "Tag") SELECT printf('00000000-0000-7000-b000-%012X', i), CASE i % 2 WHEN 0 THEN 'billing' ELSE 'support' END FROM n;
UPDATE runs SET "Status" = 'Completed', "EndedAt" = '2026-11-25 10:00:05', "DurationMs" = 200 + (CAST(substr("Query", 3) AS INTEGER) * 7717) % 11800, "TimeToFirstTokenMs" = 50 + (CAST(substr("Query", 3) AS INTEGER) * 331) % 850,
  "InputTokens" = 500, "CachedInputTokens" = 100, "OutputTokens" = 200, "ReasoningTokens" = 20, "CostNanoUsd" = 1300000 WHERE "Owner" = 'micro';
ROLLBACK;
