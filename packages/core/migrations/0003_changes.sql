-- AuthFramework schema, version 3: the change log. Applied by migrate(pool) inside a transaction.
--
-- PostgreSQL is the record; Redis and each instance's memory are caches. Every change that a cache
-- may hold an old copy of (a user's permissions or active flag, a session destroyed, a token
-- revoked) is appended here by a trigger, in the transaction that makes it, whoever the writer
-- is (the library, an admin's SQL, another service). Every instance reads the log on a short
-- period. A cached copy carries the log's version from before it was read from the database; a
-- copy older than the latest change of its key is never served.
--
-- Writers never wait for each other: a change is inserted without a version, and the first
-- instance to read the log numbers what has committed since (under a try-lock, in one short
-- transaction), so versions become visible in increasing order: a reader that has seen version N
-- has seen every version below it.
--
-- (Revocation rows written since this version key a token on the SHA-256 of its JWS Signing
-- Input, `header.payload`, rather than of the whole token as 0002's comment says.)

CREATE SEQUENCE changes_version_seq;

CREATE TABLE changes (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  version    bigint      UNIQUE,
  topic      text        NOT NULL CHECK (topic IN ('permissions', 'sessions', 'revocations')),
  key        text        NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX changes_unnumbered_idx ON changes (id) WHERE version IS NULL;
-- The log is swept by age (sweepChanges).
CREATE INDEX changes_changed_at_idx ON changes (changed_at);

-- Numbers the changes committed so far; 0 when another reader is doing it right now.
CREATE FUNCTION authframework_number_changes() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  numbered integer;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended('authframework:changes:' || current_schema(), 0)) THEN
    RETURN 0;
  END IF;
  UPDATE changes SET version = nextval('changes_version_seq')
  WHERE id IN (SELECT id FROM changes WHERE version IS NULL ORDER BY id);
  GET DIAGNOSTICS numbered = ROW_COUNT;
  RETURN numbered;
END
$$;

CREATE FUNCTION authframework_change(change_topic text, change_key text) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO changes (topic, key) VALUES (change_topic, change_key)
$$;

-- A user's permissions, roles or active flag; sessions carry their user's active flag.
CREATE FUNCTION authframework_users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM authframework_change('permissions', OLD.id);
  PERFORM authframework_change('sessions', s.id) FROM sessions s WHERE s.user_id = OLD.id AND s.active;
  RETURN NULL;
END
$$;
CREATE TRIGGER users_active_changes AFTER UPDATE OF active ON users
  FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active)
  EXECUTE FUNCTION authframework_users_changed();
CREATE TRIGGER users_deleted_changes AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION authframework_users_changed();

CREATE FUNCTION authframework_user_roles_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN PERFORM authframework_change('permissions', OLD.user_id); END IF;
  IF TG_OP <> 'DELETE' THEN PERFORM authframework_change('permissions', NEW.user_id); END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER user_roles_changes AFTER INSERT OR UPDATE OR DELETE ON user_roles
  FOR EACH ROW EXECUTE FUNCTION authframework_user_roles_changed();

-- A role's permissions changed, or a role or permission was renamed: every member of the role.
CREATE FUNCTION authframework_role_members_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'role_permissions' THEN
    IF TG_OP <> 'INSERT' THEN
      PERFORM authframework_change('permissions', ur.user_id) FROM user_roles ur WHERE ur.role_id = OLD.role_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
      PERFORM authframework_change('permissions', ur.user_id) FROM user_roles ur WHERE ur.role_id = NEW.role_id;
    END IF;
  ELSIF TG_TABLE_NAME = 'roles' THEN
    PERFORM authframework_change('permissions', ur.user_id) FROM user_roles ur WHERE ur.role_id = OLD.id;
  ELSE
    PERFORM authframework_change('permissions', ur.user_id)
    FROM role_permissions rp JOIN user_roles ur ON ur.role_id = rp.role_id
    WHERE rp.permission_id = OLD.id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER role_permissions_changes AFTER INSERT OR UPDATE OR DELETE ON role_permissions
  FOR EACH ROW EXECUTE FUNCTION authframework_role_members_changed();
CREATE TRIGGER roles_renamed_changes AFTER UPDATE OF name ON roles
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
  EXECUTE FUNCTION authframework_role_members_changed();
CREATE TRIGGER permissions_renamed_changes AFTER UPDATE OF name ON permissions
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
  EXECUTE FUNCTION authframework_role_members_changed();

-- A live session destroyed or deleted (expired ones are no cache's concern).
CREATE FUNCTION authframework_sessions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM authframework_change('sessions', OLD.id);
  RETURN NULL;
END
$$;
CREATE TRIGGER sessions_active_changes AFTER UPDATE OF active ON sessions
  FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active)
  EXECUTE FUNCTION authframework_sessions_changed();
CREATE TRIGGER sessions_deleted_changes AFTER DELETE ON sessions
  FOR EACH ROW WHEN (OLD.active AND OLD.expires_at > now())
  EXECUTE FUNCTION authframework_sessions_changed();

-- A revocation recorded (inserted or renewed).
CREATE FUNCTION authframework_tokens_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM authframework_change('revocations', NEW.token_hash);
  RETURN NULL;
END
$$;
CREATE TRIGGER tokens_revoked_changes AFTER INSERT OR UPDATE ON tokens
  FOR EACH ROW WHEN (NEW.revoked)
  EXECUTE FUNCTION authframework_tokens_revoked();
