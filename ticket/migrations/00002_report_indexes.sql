-- The monthly report scans a month of tickets and of deadlines. These
-- indexes cover what it reads, so that the scan never visits the tables
-- (a million tickets in a month stay within seconds). They replace the
-- plain time indexes: the hot path keeps the same number of b-trees.

-- +goose Up
DROP INDEX tickets_created;
CREATE INDEX tickets_month ON tickets (created_at, channel, kind, line, unit_id, status, satisfaction, reopened);
DROP INDEX deadlines_due;
CREATE INDEX deadlines_month ON deadlines (due_at, stage, unit_id, waived, done_at, ticket_id);

-- +goose Down
DROP INDEX deadlines_month;
CREATE INDEX deadlines_due ON deadlines (due_at);
DROP INDEX tickets_month;
CREATE INDEX tickets_created ON tickets (created_at);
