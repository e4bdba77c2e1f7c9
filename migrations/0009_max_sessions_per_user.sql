-- Issue 10: sessions one user may hold at once (account setting, 1-50, default 5).
ALTER TABLE `accounts` ADD `max_sessions_per_user` integer DEFAULT 5 NOT NULL;
