-- Per-user data. Every query filters by user_id (ownership), hence the
-- user_id-first indexes.

CREATE TABLE alert_rules (
  id          text COLLATE "C" PRIMARY KEY,
  user_id     text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  symbol      text NOT NULL,
  kind        text NOT NULL,
  threshold   double precision NOT NULL,
  period      integer,
  cooldown_ms integer NOT NULL DEFAULT 60000,
  enabled     boolean NOT NULL DEFAULT true,
  note        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_user_idx ON alert_rules (user_id, created_at, id);

-- Fired alerts outlive their rule (no foreign key): history stays readable
-- after a rule is deleted, and the writer never fails on a vanished rule.
CREATE TABLE alert_events (
  id        text COLLATE "C" PRIMARY KEY,
  rule_id   text NOT NULL,
  user_id   text COLLATE "C" NOT NULL,
  symbol    text COLLATE "C" NOT NULL,
  kind      text NOT NULL,
  ts        timestamptz NOT NULL,
  value     double precision NOT NULL,
  threshold double precision NOT NULL,
  message   text NOT NULL
);
CREATE INDEX alert_events_user_ts_idx ON alert_events (user_id, ts DESC, id DESC);
CREATE INDEX alert_events_user_symbol_ts_idx ON alert_events (user_id, symbol, ts DESC, id DESC);

CREATE TABLE watchlists (
  id         text COLLATE "C" PRIMARY KEY,
  user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name       text NOT NULL,
  symbols    text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX watchlists_user_idx ON watchlists (user_id, created_at, id);
