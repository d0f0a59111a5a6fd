-- Accounts: login sessions and their refresh tokens (docs/security.md).
--
-- A session is one login (a "token family"). Each refresh rotates its token:
-- the used row keeps `used_at`, a new row is added. Presenting a used token
-- again means it was copied, so the whole session is revoked. Tokens are
-- stored as SHA-256 hashes only: a database dump does not yield usable tokens.

-- User names are case-insensitive ('Alice' and 'alice' are one account).
CREATE UNIQUE INDEX users_username_lower_idx ON users (lower(username));

CREATE TABLE auth_sessions (
  id             text COLLATE "C" PRIMARY KEY,
  user_id        text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL,
  last_used_at   timestamptz NOT NULL,
  -- absolute end of the session, whatever the refreshes
  expires_at     timestamptz NOT NULL,
  revoked_at     timestamptz,
  revoked_reason text,
  user_agent     text,
  ip             text
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
  token_hash text COLLATE "C" PRIMARY KEY,
  session_id text COLLATE "C" NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
