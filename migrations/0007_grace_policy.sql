-- The account's grace policy (docs/licensing.md#grace-policies): per_overrun (each over-run of a
-- place gets its own grace) or cumulative (a place's over-limit time in the cycle is summed).
ALTER TABLE `accounts` ADD `grace_policy` text DEFAULT 'per_overrun' NOT NULL;
