-- Paper trading (docs/trading.md, "Paper trading: REST, WebSocket and where it runs").
--
-- Every table carries user_id and every query filters by it (ownership, no
-- IDOR), hence the user_id-first indexes. Times from the market (order and
-- fill times, equity points) are epoch milliseconds in bigint: they must
-- come back exactly as the pure trading core produced them (fills are compared
-- bit for bit with a backtest). Money and quantities are double precision,
-- as the core computes them.

CREATE TABLE trading_accounts (
  id            text COLLATE "C" PRIMARY KEY,
  user_id       text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL,
  market        text NOT NULL,
  starting_cash double precision NOT NULL,
  -- risk limits (the core's RiskLimits, JSON) and the fee schedule name
  risk_limits   jsonb NOT NULL DEFAULT '{}'::jsonb,
  fees          text NOT NULL DEFAULT 'default',
  -- bumped by a reset: the running core is rebuilt from scratch, old rows are removed
  generation    integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trading_accounts_user_idx ON trading_accounts (user_id, created_at, id);

-- The durable command queue between whoever accepts a request (any api
-- replica, or the embedded server) and the one process that runs the core
-- (the collector leader). A command is stored first, then announced; the
-- runner applies pending commands in seq order and marks them applied in the
-- same transaction as the core snapshot that contains their effect, so a
-- command is applied exactly once across restarts and failovers.
CREATE TABLE trading_commands (
  seq          bigserial PRIMARY KEY,
  id           text COLLATE "C" NOT NULL UNIQUE,
  user_id      text COLLATE "C" NOT NULL,
  account_id   text COLLATE "C" NOT NULL REFERENCES trading_accounts (id) ON DELETE CASCADE,
  kind         text NOT NULL,
  -- a submit's idempotency key (the order's client_order_id)
  client_key   text COLLATE "C",
  payload      jsonb NOT NULL,
  status       text NOT NULL DEFAULT 'pending',
  result       jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  applied_at   timestamptz
);
CREATE INDEX trading_commands_pending_idx ON trading_commands (status, seq);
CREATE INDEX trading_commands_account_idx ON trading_commands (account_id, seq);
CREATE UNIQUE INDEX trading_commands_client_key_idx ON trading_commands (account_id, client_key) WHERE client_key IS NOT NULL;

-- Orders as the core last reported them. client_order_id is the caller's
-- idempotency key: unique per account, so a retried submit finds the first.
CREATE TABLE trading_orders (
  id              text COLLATE "C" PRIMARY KEY,
  user_id         text COLLATE "C" NOT NULL,
  account_id      text COLLATE "C" NOT NULL REFERENCES trading_accounts (id) ON DELETE CASCADE,
  client_order_id text COLLATE "C" NOT NULL,
  command_id      text COLLATE "C",
  strategy_id     text COLLATE "C",
  symbol          text COLLATE "C" NOT NULL,
  side            text NOT NULL,
  type            text NOT NULL,
  status          text NOT NULL,
  open            boolean NOT NULL,
  qty             double precision NOT NULL,
  filled_qty      double precision NOT NULL DEFAULT 0,
  event_ts        bigint NOT NULL,
  updated_ts      bigint NOT NULL,
  data            jsonb NOT NULL,
  UNIQUE (account_id, client_order_id)
);
CREATE INDEX trading_orders_user_idx ON trading_orders (user_id, account_id, event_ts DESC, id DESC);
CREATE INDEX trading_orders_open_idx ON trading_orders (account_id) WHERE open;

-- Market time columns (`event_ts`, `updated_ts`) are the trading core's own
-- event times in epoch milliseconds (bigint), compared exactly with its snapshot
-- horizon; wall-clock columns (`created_at`, …) are timestamptz as elsewhere.

-- Fills: the id is the core's deterministic fill id, the primary key makes
-- storing one twice a no-op (exactly once across failovers).
CREATE TABLE trading_fills (
  id          text COLLATE "C" PRIMARY KEY,
  user_id     text COLLATE "C" NOT NULL,
  account_id  text COLLATE "C" NOT NULL REFERENCES trading_accounts (id) ON DELETE CASCADE,
  order_id    text COLLATE "C" NOT NULL,
  symbol      text COLLATE "C" NOT NULL,
  side        text NOT NULL,
  qty         double precision NOT NULL,
  price       double precision NOT NULL,
  fee         double precision NOT NULL DEFAULT 0,
  tax         double precision NOT NULL DEFAULT 0,
  event_ts    bigint NOT NULL,
  data        jsonb NOT NULL
);
CREATE INDEX trading_fills_user_idx ON trading_fills (user_id, account_id, event_ts DESC, id DESC);

-- The core of each account as of its last stored event (core.snapshot()), and
-- the portfolio derived from it for REST. Written in the same transaction as
-- the fills and orders it includes: a restored core never misses or repeats one.
CREATE TABLE trading_snapshots (
  account_id  text COLLATE "C" PRIMARY KEY REFERENCES trading_accounts (id) ON DELETE CASCADE,
  user_id     text COLLATE "C" NOT NULL,
  generation  integer NOT NULL,
  event_ts    bigint NOT NULL,
  fills       integer NOT NULL,
  core        jsonb NOT NULL,
  portfolio   jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Equity curve: one point per account and minute (the last value of the minute).
CREATE TABLE trading_equity (
  account_id  text COLLATE "C" NOT NULL REFERENCES trading_accounts (id) ON DELETE CASCADE,
  user_id     text COLLATE "C" NOT NULL,
  event_ts    bigint NOT NULL,
  equity      double precision NOT NULL,
  cash        double precision NOT NULL,
  PRIMARY KEY (account_id, event_ts)
);

CREATE TABLE trading_strategies (
  id          text COLLATE "C" PRIMARY KEY,
  user_id     text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  account_id  text COLLATE "C" NOT NULL REFERENCES trading_accounts (id) ON DELETE CASCADE,
  name        text NOT NULL,
  params      jsonb NOT NULL DEFAULT '{}'::jsonb,
  symbols     text[] NOT NULL DEFAULT '{}',
  state       text NOT NULL DEFAULT 'stopped',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trading_strategies_user_idx ON trading_strategies (user_id, created_at, id);
CREATE INDEX trading_strategies_running_idx ON trading_strategies (account_id) WHERE state = 'running';

-- One row per start..stop of a strategy (stopped_at null while running).
CREATE TABLE trading_strategy_runs (
  id           text COLLATE "C" PRIMARY KEY,
  user_id      text COLLATE "C" NOT NULL,
  strategy_id  text COLLATE "C" NOT NULL REFERENCES trading_strategies (id) ON DELETE CASCADE,
  account_id   text COLLATE "C" NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz,
  reason       text
);
CREATE INDEX trading_strategy_runs_idx ON trading_strategy_runs (user_id, strategy_id, started_at DESC);

-- Backtests run on request. At most one running per user, across replicas:
-- the partial unique index refuses a second one.
CREATE TABLE trading_backtests (
  id          text COLLATE "C" PRIMARY KEY,
  user_id     text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status      text NOT NULL,
  request     jsonb NOT NULL,
  result      jsonb,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX trading_backtests_user_idx ON trading_backtests (user_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX trading_backtests_one_running_idx ON trading_backtests (user_id) WHERE status = 'running';
