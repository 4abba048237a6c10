-- Submission attempts per connect session, as a token bucket kept with the session,
-- so the limit holds across every instance.
ALTER TABLE connect_sessions ADD COLUMN attempt_tokens DOUBLE PRECISION;
ALTER TABLE connect_sessions ADD COLUMN attempt_at BIGINT;
