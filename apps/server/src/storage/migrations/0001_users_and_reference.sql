-- Users (a default 'local' user until accounts arrive) and reference data:
-- the latest reference of each symbol plus one row per symbol and trading day.
-- Key columns use the "C" collation: byte order is the same on PGlite and on
-- any PostgreSQL locale, so cursors and ids sort identically everywhere.

CREATE TABLE users (
  id            text COLLATE "C" PRIMARY KEY,
  username      text NOT NULL UNIQUE,
  password_hash text,
  created_at    timestamptz NOT NULL DEFAULT now()
);

INSERT INTO users (id, username) VALUES ('local', 'local') ON CONFLICT DO NOTHING;

CREATE TABLE symbols (
  symbol             text COLLATE "C" PRIMARY KEY,
  exchange           text NOT NULL,
  market             text NOT NULL CHECK (market IN ('VN', 'US')),
  name               text,
  lot_size           integer NOT NULL CHECK (lot_size >= 1),
  indices            text[] NOT NULL DEFAULT '{}',
  shares_outstanding double precision NOT NULL DEFAULT 0,
  foreign_limit      double precision,
  -- the latest trading day seen, and its reference/limits
  trading_date       date NOT NULL,
  reference          double precision NOT NULL,
  ceiling            double precision,
  floor              double precision,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX symbols_exchange_idx ON symbols (exchange, symbol);

CREATE TABLE symbol_daily_refs (
  symbol       text COLLATE "C" NOT NULL,
  trading_date date NOT NULL,
  reference    double precision NOT NULL,
  ceiling      double precision,
  floor        double precision,
  PRIMARY KEY (symbol, trading_date)
);
