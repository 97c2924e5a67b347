-- AuthFramework schema, version 2: distributed revocations and session sweeps.
-- Applied by migrate(pool) inside a transaction.
--
-- The `tokens` table now holds three kinds of revocation rows, all keyed by `token_hash`:
--   kind 'token'   token_hash = SHA-256 (base64url) of the canonical compact token; user_id = its sub
--   kind 'jti'     token_hash = 'jti:' || SHA-256 (base64url) of the jti; the jti itself in `jti`
--   kind 'subject' token_hash = 'sub:' || SHA-256 (base64url) of the sub; user_id = the sub;
--                  every token of that subject issued at or before `revoked_before` is revoked
-- A token is never stored, only its hash. Rows written before this migration are kind 'token'.

-- A jti revocation names no user, and a revoked token's subject need not be a row of `users`
-- (tokens from an external issuer). A revocation must also outlive the user it names: deleting a
-- user must not bring their revoked tokens back, so the cascading foreign key goes.
ALTER TABLE tokens ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE tokens DROP CONSTRAINT IF EXISTS tokens_user_id_fkey;

ALTER TABLE tokens
  ADD COLUMN kind text NOT NULL DEFAULT 'token',
  ADD COLUMN jti text,
  ADD COLUMN revoked_before timestamptz,
  -- Set by the trigger below on every insert and update, whoever the writer is: the catch-up read
  -- of each instance asks for the rows changed since its last read.
  ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now(),
  ADD CONSTRAINT tokens_kind_check CHECK (
    (kind = 'token')
    OR (kind = 'jti' AND jti IS NOT NULL)
    OR (kind = 'subject' AND user_id IS NOT NULL AND revoked_before IS NOT NULL)
  );

CREATE FUNCTION authframework_tokens_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER tokens_changed_at
  BEFORE INSERT OR UPDATE ON tokens
  FOR EACH ROW EXECUTE FUNCTION authframework_tokens_changed();

-- The catch-up read: live revocations in (changed_at, token_hash) order, one page at a time.
CREATE INDEX tokens_revoked_changed_at_idx ON tokens (changed_at, token_hash) WHERE revoked;
-- The expiry sweep of revoked rows (0001 already indexes expires_at WHERE NOT revoked).
CREATE INDEX tokens_expires_at_revoked_idx ON tokens (expires_at) WHERE revoked;
-- The expiry sweep of destroyed sessions (0001 already indexes expires_at WHERE active).
CREATE INDEX sessions_expires_at_inactive_idx ON sessions (expires_at) WHERE NOT active;
