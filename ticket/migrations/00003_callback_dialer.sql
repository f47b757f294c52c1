-- +goose Up
-- The callback dialer (ivr/callback): it picks pending callbacks by
-- deadline, and keeps what each attempt came to.
CREATE INDEX callbacks_due ON callbacks (due_at, id) WHERE state = 'pending';
ALTER TABLE callbacks ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE callback_attempts ADD COLUMN cause INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callback_attempts ADD COLUMN score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callback_attempts ADD COLUMN recording TEXT NOT NULL DEFAULT '';
ALTER TABLE callback_attempts ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE callback_attempts DROP COLUMN note;
ALTER TABLE callback_attempts DROP COLUMN recording;
ALTER TABLE callback_attempts DROP COLUMN score;
ALTER TABLE callback_attempts DROP COLUMN cause;
ALTER TABLE callbacks DROP COLUMN note;
DROP INDEX callbacks_due;
