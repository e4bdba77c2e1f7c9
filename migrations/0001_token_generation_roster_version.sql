-- Agent tokens carry their user's token generation (claim `gen`); the account's Durable Object
-- refuses a token whose generation is not the user's current one. Revoking a user's tokens, or
-- deleting the user, raises it (docs/decisions/021-agent-tokens-carry-a-generation.md).
ALTER TABLE `users` ADD `token_generation` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Raised in the same D1 batch as every roster write the account's object makes: an object whose
-- own copy of the roster carries another version knows it drifted and reconciles from D1.
ALTER TABLE `accounts` ADD `roster_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- The few users whose generation was raised, without reading the account's other users.
CREATE INDEX `users_token_generation` ON `users` (`account_id`) WHERE `token_generation` > 0;
