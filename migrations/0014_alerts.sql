-- Issue 14: per pool threshold alerts (a JSON array of percentages; NULL = the default [80, 100])
-- and the warning before an over-run's grace ends (account setting, seconds, 0 = off).
ALTER TABLE `pools` ADD `alerts` text;
--> statement-breakpoint
ALTER TABLE `accounts` ADD `warn_before_grace_end_seconds` integer DEFAULT 300 NOT NULL;
