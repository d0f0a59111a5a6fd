-- Vendor history imported by `stock-tracker backfill`.
--
-- Daily bars get their own table: storing a whole day as one row of bars_1m
-- would show up as a giant 1-minute bar and be counted twice once intraday
-- history for the same day is imported. `ts` is the start of the exchange's
-- local trading day, like the 1d buckets the API builds from bars_1m.
CREATE TABLE bars_1d (
  symbol  text COLLATE "C" NOT NULL,
  ts      timestamptz NOT NULL,
  open    double precision NOT NULL,
  high    double precision NOT NULL,
  low     double precision NOT NULL,
  close   double precision NOT NULL,
  volume  double precision NOT NULL,
  value   double precision,
  trades  integer,
  PRIMARY KEY (symbol, ts)
);

-- Where each symbol of a backfill job stands, so an interrupted run resumes
-- instead of starting over. `job` names feed, interval and date range.
CREATE TABLE backfill_checkpoints (
  job        text COLLATE "C" NOT NULL,
  symbol     text COLLATE "C" NOT NULL,
  cursor     text,
  rows       bigint NOT NULL DEFAULT 0,
  done       boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, symbol)
);
