-- AuthFramework schema, version 3: the change log. Applied by migrate(pool) inside a transaction.
--
-- PostgreSQL is the record; Redis and each instance's memory are caches. Every change that a cache
-- may hold an old copy of (a user's permissions invalidated, a session destroyed, a token revoked)
-- is appended here in the transaction that makes it, and every instance reads the log after
-- `version` on a short period. A cached copy carries the log's version at the time it was read
-- from the database; a copy older than the latest change of its key is never served.
--
-- (Revocation rows written since this version key a token on the SHA-256 of its JWS Signing
-- Input, `header.payload`, rather than of the whole token as 0002's comment says.)

CREATE TABLE changes (
  -- Assigned under a transaction-level advisory lock, so versions commit in increasing order: a
  -- reader that has seen version N has seen every version below it.
  version    bigint      PRIMARY KEY,
  topic      text        NOT NULL CHECK (topic IN ('permissions', 'sessions', 'revocations')),
  key        text        NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);

-- The log is swept by age (sweepChanges); readers ask by version.
CREATE INDEX changes_changed_at_idx ON changes (changed_at);

-- Appends one change and returns its version. The lock is per schema and held until commit.
CREATE FUNCTION authframework_change(change_topic text, change_key text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  assigned bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('authframework:changes:' || current_schema(), 0));
  SELECT coalesce(max(version), 0) + 1 INTO assigned FROM changes;
  INSERT INTO changes (version, topic, key) VALUES (assigned, change_topic, change_key);
  RETURN assigned;
END
$$;
