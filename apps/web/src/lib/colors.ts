/**
 * Vietnamese board colour convention: a price is coloured by where it sits
 * against the day's reference (TC), ceiling (Trần) and floor (Sàn).
 * ceiling purple, floor cyan, reference yellow, above reference green, below red.
 */
export type PriceTone = 'ceiling' | 'floor' | 'ref' | 'up' | 'down' | 'none';

export interface PriceBand {
  reference: number;
  /** null where the market has no daily limit (US). */
  ceiling: number | null;
  floor: number | null;
}

// Prices come from the same tick grid, but US prices are fractional: compare
// with a tolerance far below any tick so 10.1 + 0.2 style noise cannot flip a colour.
const EPS = 1e-9;
const same = (a: number, b: number) => Math.abs(a - b) <= EPS * Math.max(1, Math.abs(a), Math.abs(b));

/** Tone of a price; `none` when there is no price (no trade yet) or no usable reference. */
export function priceTone(price: number | null | undefined, band: PriceBand | null | undefined): PriceTone {
  if (typeof price !== 'number' || !Number.isFinite(price) || price <= 0) return 'none';
  if (!band || !(band.reference > 0)) return 'none';
  if (band.ceiling !== null && Number.isFinite(band.ceiling) && (price > band.ceiling || same(price, band.ceiling))) return 'ceiling';
  if (band.floor !== null && Number.isFinite(band.floor) && band.floor > 0 && (price < band.floor || same(price, band.floor))) return 'floor';
  if (same(price, band.reference)) return 'ref';
  return price > band.reference ? 'up' : 'down';
}

/** Tone of a signed change (index points, net flows): up, down or ref for zero. */
export function changeTone(change: number | null | undefined): PriceTone {
  if (typeof change !== 'number' || !Number.isFinite(change)) return 'none';
  if (change > 0) return 'up';
  if (change < 0) return 'down';
  return 'ref';
}

/** CSS class for a tone (see styles.css); empty for `none`. */
export const toneClass = (t: PriceTone): string => (t === 'none' ? '' : `tone-${t}`);
