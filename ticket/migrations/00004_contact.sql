-- +goose Up
-- 第十三条 registers the caller's contact (联系方式); it is kept apart from
-- the calling number, which stays the caller's identity for 并单.
ALTER TABLE tickets ADD COLUMN contact TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN contact;
