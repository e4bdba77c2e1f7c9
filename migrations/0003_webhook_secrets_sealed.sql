-- Webhooks (issue 10 items 3 and 7, issue 14 item 6): secrets sealed at rest, secret rotation,
-- a delivery format per webhook, and events settled as `no_endpoint`.
-- SQL cannot encrypt (the key is a Worker secret), so existing plain secrets move out of
-- `webhook_secret` (which from now on only holds sealed ones) into `webhook_secret_plain`; the
-- Worker seals each on its next delivery and the hourly job seals the rest, clearing the plain copy.
ALTER TABLE `accounts` ADD `webhook_secret_plain` text;
--> statement-breakpoint
UPDATE `accounts` SET `webhook_secret_plain` = `webhook_secret`, `webhook_secret` = NULL WHERE `webhook_secret` IS NOT NULL;
--> statement-breakpoint
ALTER TABLE `accounts` ADD `webhook_secret_previous` text;
--> statement-breakpoint
ALTER TABLE `accounts` ADD `webhook_secret_previous_until` text;
--> statement-breakpoint
ALTER TABLE `accounts` ADD `webhook_format` text DEFAULT 'seatkeeper' NOT NULL;
--> statement-breakpoint
ALTER TABLE `webhook_events` ADD `no_endpoint_at` text;
--> statement-breakpoint
-- Events stored while no webhook was set were left pending for ever; they are `no_endpoint` now.
UPDATE `webhook_events` SET `no_endpoint_at` = `created_at`, `last_error` = NULL
  WHERE `delivered_at` IS NULL AND `dead_at` IS NULL AND `last_error` = 'no webhook configured';
