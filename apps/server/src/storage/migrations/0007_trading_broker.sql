-- The broker an account trades through (docs/trading.md, "Alpaca broker"):
-- 'paper' is the trading core's own fill model; 'alpaca' sends the core's
-- orders to the Alpaca Trading API (paper endpoint unless configured live).
-- Existing accounts are paper accounts.
ALTER TABLE trading_accounts ADD COLUMN broker text NOT NULL DEFAULT 'paper';
