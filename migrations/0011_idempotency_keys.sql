-- Issue 10: Idempotency-Key on admin writes. One row per (scope, key): the request it was first
-- used for (hashed) and, once answered, that answer sealed (AES-256-GCM). Kept 24 h; the hourly
-- job deletes expired rows. The key itself is never stored, only its SHA-256.
CREATE TABLE `idempotency_keys` (
	`scope` text NOT NULL,
	`key_hash` text NOT NULL,
	`account_id` text,
	`request_hash` text NOT NULL,
	`status` integer,
	`content_type` text,
	`body` text,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	PRIMARY KEY(`scope`, `key_hash`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires` ON `idempotency_keys` (`expires_at`);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_account` ON `idempotency_keys` (`account_id`);
