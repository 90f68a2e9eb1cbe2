-- Blobs (raw mail above all) are stored zstd-compressed when that saves
-- space: encoding says how data is stored, size stays the original's.
ALTER TABLE blobs ADD COLUMN encoding TEXT NOT NULL DEFAULT '';
