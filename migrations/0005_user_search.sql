-- User search (GET /v1/accounts/{account_id}/users?q=&pool=&addon=): every filter is answered
-- from an index, so a 50,000-user account is never scanned to fill a page.
-- Prefix search, case-insensitive for ASCII letters (SQLite's lower()), within the account: the
-- queries in src/db/users.ts spell these expressions exactly, or the index would not be used.
CREATE INDEX `users_search_id` ON `users` (`account_id`, lower(`id`));--> statement-breakpoint
CREATE INDEX `users_search_email` ON `users` (`account_id`, lower(`email`));--> statement-breakpoint
CREATE INDEX `users_search_name` ON `users` (`account_id`, lower(`display_name`));--> statement-breakpoint
-- The display name from its second word on: "lov" finds "Ada Lovelace".
CREATE INDEX `users_search_surname` ON `users` (`account_id`, lower(substr(`display_name`, instr(`display_name`, ' ') + 1)));--> statement-breakpoint
-- By pool and by add-on, in user id order: a filtered page is read in order, with no sort.
-- licenses_pool (account_id, pool_id) is a prefix of the new index, so it goes.
DROP INDEX IF EXISTS `licenses_pool`;--> statement-breakpoint
CREATE INDEX `licenses_pool_user` ON `licenses` (`account_id`, `pool_id`, `user_id`);--> statement-breakpoint
CREATE INDEX `addon_assignments_product_user` ON `addon_assignments` (`account_id`, `product`, `user_id`);
