-- Time-series tables written by the storage writer. Every primary key
-- contains the time column so that TimescaleDB can turn them into hypertables
-- (a unique index on a hypertable must include the partitioning column).

-- A trade is stored once: replays and retries hit the primary key and are ignored.
CREATE TABLE trades (
  symbol      text COLLATE "C" NOT NULL,
  ts          timestamptz NOT NULL,
  id          text COLLATE "C" NOT NULL,
  price       double precision NOT NULL,
  volume      double precision NOT NULL,
  side        text NOT NULL CHECK (side IN ('buy', 'sell', 'unknown')),
  side_source text NOT NULL,
  phase       text NOT NULL,
  -- (symbol, ts DESC, id DESC) scans of this key serve "latest trades" pages
  PRIMARY KEY (symbol, ts, id)
);

-- Closed 1-minute bars; coarser intervals are aggregated from these in SQL.
CREATE TABLE bars_1m (
  symbol         text COLLATE "C" NOT NULL,
  ts             timestamptz NOT NULL,
  open           double precision NOT NULL,
  high           double precision NOT NULL,
  low            double precision NOT NULL,
  close          double precision NOT NULL,
  volume         double precision NOT NULL,
  value          double precision NOT NULL,
  vwap           double precision,
  buy_volume     double precision NOT NULL,
  sell_volume    double precision NOT NULL,
  unknown_volume double precision NOT NULL,
  trades         integer NOT NULL,
  PRIMARY KEY (symbol, ts)
);

-- One row per symbol, trading day and phase ('day' = the whole day); upserted.
CREATE TABLE session_summaries (
  symbol         text COLLATE "C" NOT NULL,
  trading_date   date NOT NULL,
  phase          text NOT NULL CHECK (phase IN ('pre_open', 'ato', 'continuous', 'lunch_break', 'atc', 'plo', 'closed', 'day')),
  open           double precision,
  high           double precision,
  low            double precision,
  close          double precision,
  volume         double precision NOT NULL,
  value          double precision NOT NULL,
  vwap           double precision,
  buy_volume     double precision NOT NULL,
  sell_volume    double precision NOT NULL,
  unknown_volume double precision NOT NULL,
  trades         integer NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (symbol, trading_date, phase)
);

-- Cumulative foreign investor figures, sampled (the writer throttles per symbol).
CREATE TABLE foreign_flows (
  symbol         text COLLATE "C" NOT NULL,
  ts             timestamptz NOT NULL,
  buy_volume     double precision NOT NULL,
  sell_volume    double precision NOT NULL,
  buy_value      double precision NOT NULL,
  sell_value     double precision NOT NULL,
  net_volume     double precision NOT NULL,
  net_value      double precision NOT NULL,
  total_room     double precision NOT NULL,
  current_room   double precision NOT NULL,
  room_usage_pct double precision,
  PRIMARY KEY (symbol, ts)
);

-- Index values, sampled (the writer throttles per index).
CREATE TABLE index_values (
  index_id     text COLLATE "C" NOT NULL,
  ts           timestamptz NOT NULL,
  name         text NOT NULL,
  value        double precision NOT NULL,
  prev_close   double precision NOT NULL,
  change       double precision NOT NULL,
  change_pct   double precision NOT NULL,
  volume       double precision NOT NULL,
  value_traded double precision NOT NULL,
  advances     integer NOT NULL,
  declines     integer NOT NULL,
  unchanged    integer NOT NULL,
  ceilings     integer NOT NULL,
  floors       integer NOT NULL,
  computed     boolean NOT NULL,
  PRIMARY KEY (index_id, ts)
);
