-- Issue 10: the API key list shows a key's prefix and when it was last used (never the key or its hash).
ALTER TABLE `api_keys` ADD `prefix` text;
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `last_used_at` text;
