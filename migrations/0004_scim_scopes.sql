-- Scoped API keys and SCIM 2.0 provisioning (issue 16).

-- Keys made before scopes keep doing everything.
ALTER TABLE `api_keys` ADD `scopes` text DEFAULT 'admin' NOT NULL;
--> statement-breakpoint
-- A user's team (set by SCIM or group rules; ^[A-Za-z0-9_.-]{1,64}$).
ALTER TABLE `users` ADD `team` text;
--> statement-breakpoint
-- What an identity provider told us about a user, beyond the users row. The user id is the
-- userName at creation; `user_name_key` (lower case) keeps userName unique per account.
CREATE TABLE `scim_users` (
	`account_id` text NOT NULL,
	`user_id` text NOT NULL,
	`user_name` text NOT NULL,
	`user_name_key` text NOT NULL,
	`external_id` text,
	`active` integer DEFAULT 1 NOT NULL,
	`name` text DEFAULT '{}' NOT NULL,
	`emails` text DEFAULT '[]' NOT NULL,
	`pool_attr` text,
	`addons_attr` text DEFAULT '[]' NOT NULL,
	`team_attr` text,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `user_id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scim_users_user_name` ON `scim_users` (`account_id`,`user_name_key`);
--> statement-breakpoint
CREATE INDEX `scim_users_external_id` ON `scim_users` (`account_id`,`external_id`);
--> statement-breakpoint
CREATE TABLE `scim_groups` (
	`account_id` text NOT NULL,
	`id` text NOT NULL,
	`display_name` text NOT NULL,
	`display_name_key` text NOT NULL,
	`external_id` text,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scim_groups_display_name` ON `scim_groups` (`account_id`,`display_name_key`);
--> statement-breakpoint
CREATE TABLE `scim_group_members` (
	`account_id` text NOT NULL,
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`account_id`, `group_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `scim_group_members_user` ON `scim_group_members` (`account_id`,`user_id`);
--> statement-breakpoint
-- Group rules: which group gives which pool, team and add-ons (JSON, in priority order).
CREATE TABLE `provisioning_rules` (
	`account_id` text PRIMARY KEY NOT NULL,
	`rules` text DEFAULT '[]' NOT NULL,
	`updated_at` text NOT NULL
);
