-- Issue 15.1: per concurrent pool and team, a hard cap and a reservation (docs/licensing.md#teams).
CREATE TABLE `pool_teams` (
	`account_id` text NOT NULL,
	`pool_id` text NOT NULL,
	`team` text NOT NULL,
	`max_active` integer,
	`reserve` integer DEFAULT 0 NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `pool_id`, `team`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
-- The object loads the users who have a team, and the user list filters by team, from this index.
CREATE INDEX `users_team` ON `users` (`account_id`,`team`,`id`) WHERE `team` IS NOT NULL;
