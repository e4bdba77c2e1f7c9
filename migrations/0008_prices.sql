-- The account's optional price list (issue 14): one row per account, the list as JSON, one currency.
CREATE TABLE `account_prices` (
	`account_id` text PRIMARY KEY NOT NULL,
	`currency` text NOT NULL,
	`prices` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
