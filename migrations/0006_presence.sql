-- WebSocket presence (issue 13): how long a closed socket keeps its seat for the same session.
ALTER TABLE `accounts` ADD `reconnect_grace_seconds` integer DEFAULT 15 NOT NULL;
