-- Issue 10: offboarding (DELETE /v1/accounts/{id}). `deleted_at`: from then on the account is gone
-- for every credential and the scheduler; `final_cycle_end`: the end of its short last cycle, by
-- the account object's clock, fixed once; `offboarded_at`: every step is done (a second DELETE is 404).
ALTER TABLE `accounts` ADD `deleted_at` text;
--> statement-breakpoint
ALTER TABLE `accounts` ADD `final_cycle_end` text;
--> statement-breakpoint
ALTER TABLE `accounts` ADD `offboarded_at` text;
