-- AuthFramework schema, version 4: readers of the change log number changes in turn.
--
-- Under 0003's try-lock, a reader that found another one numbering went on without numbering, and
-- so could miss a change that had committed before its read began (the other reader's snapshot may
-- have been taken before that commit). An instance that catches up after trouble with Redis must
-- see every change committed before it started reading, so a reader now waits for the one
-- numbering (a short UPDATE) and then numbers what has committed since. Versions still become
-- visible in increasing order: one reader numbers at a time, and each numbering commits before the
-- lock is released.

CREATE OR REPLACE FUNCTION authframework_number_changes() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  numbered integer;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('authframework:changes:' || current_schema(), 0));
  UPDATE changes SET version = nextval('changes_version_seq')
  WHERE id IN (SELECT id FROM changes WHERE version IS NULL ORDER BY id);
  GET DIAGNOSTICS numbered = ROW_COUNT;
  RETURN numbered;
END
$$;
