CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`billing_day` integer DEFAULT 1 NOT NULL,
	`grace_seconds` integer DEFAULT 1800 NOT NULL,
	`lease_ttl_seconds` integer DEFAULT 120 NOT NULL,
	`webhook_url` text,
	`webhook_secret` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `addon_assignments` (
	`account_id` text NOT NULL,
	`user_id` text NOT NULL,
	`product` text NOT NULL,
	`seq` integer NOT NULL,
	`assigned_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `user_id`, `product`)
);
--> statement-breakpoint
CREATE TABLE `addon_purchases` (
	`account_id` text NOT NULL,
	`product` text NOT NULL,
	`quantity` integer NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `product`)
);
--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` text NOT NULL,
	`revoked_at` text,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_account` ON `api_keys` (`account_id`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` text NOT NULL,
	`at` text NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text NOT NULL,
	`detail` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_account` ON `audit_log` (`account_id`,`id`);--> statement-breakpoint
CREATE TABLE `billing_summaries` (
	`account_id` text NOT NULL,
	`cycle_start` text NOT NULL,
	`cycle_end` text NOT NULL,
	`body` text NOT NULL,
	`generated_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `cycle_start`)
);
--> statement-breakpoint
CREATE TABLE `licenses` (
	`account_id` text NOT NULL,
	`user_id` text NOT NULL,
	`pool_id` text NOT NULL,
	`assigned_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `licenses_pool` ON `licenses` (`account_id`,`pool_id`);--> statement-breakpoint
CREATE TABLE `overage_intervals` (
	`account_id` text NOT NULL,
	`id` text NOT NULL,
	`pool_id` text NOT NULL,
	`started_at` text NOT NULL,
	`ended_at` text,
	`peak_active` integer NOT NULL,
	`peak_overage` integer NOT NULL,
	`overage_seat_seconds` real NOT NULL,
	`billable` integer NOT NULL,
	`billable_overage_seats` integer NOT NULL,
	`billable_seat_seconds` real NOT NULL,
	PRIMARY KEY(`account_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `overage_intervals_started` ON `overage_intervals` (`account_id`,`started_at`);--> statement-breakpoint
CREATE TABLE `pools` (
	`account_id` text NOT NULL,
	`id` text NOT NULL,
	`tier` text NOT NULL,
	`model` text NOT NULL,
	`quantity` integer NOT NULL,
	`max_active` integer,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `id`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `users` (
	`account_id` text NOT NULL,
	`id` text NOT NULL,
	`display_name` text,
	`email` text,
	`created_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `id`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `webhook_events` (
	`account_id` text NOT NULL,
	`id` text NOT NULL,
	`type` text NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`delivered_at` text,
	`dead_at` text,
	`last_error` text,
	PRIMARY KEY(`account_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `webhook_events_created` ON `webhook_events` (`account_id`,`created_at`);