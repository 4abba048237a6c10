-- Connection lifecycle: scheduled re-verification and expiry notices.
ALTER TABLE connections ADD COLUMN next_check_at BIGINT;
ALTER TABLE connections ADD COLUMN check_locked_until BIGINT;
ALTER TABLE connections ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN expiry_notified_days INTEGER;
CREATE INDEX connections_next_check ON connections (next_check_at);
CREATE INDEX connections_expires ON connections (credentials_expires_at);
