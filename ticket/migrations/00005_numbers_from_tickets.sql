-- +goose Up
-- A day's last public number is read from the tickets themselves (the
-- newest ticket's, or the highest of the day's), no longer kept in a
-- counter that every opening had to write. Tickets are never deleted, so
-- a number is still never given twice.
-- +goose StatementBegin
CREATE TRIGGER tickets_no_delete BEFORE DELETE ON tickets
BEGIN
    SELECT RAISE(ABORT, 'tickets are never deleted');
END;
-- +goose StatementEnd
DROP TABLE ticket_numbers;

-- +goose Down
CREATE TABLE ticket_numbers (
    day  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO ticket_numbers (day, last)
    SELECT substr(number, 7, 8), max(CAST(substr(number, 16) AS INTEGER)) FROM tickets
    WHERE number GLOB '96596-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9]*' GROUP BY 1;
DROP TRIGGER tickets_no_delete;
