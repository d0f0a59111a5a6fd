/**
 * Trading-day arithmetic for settlement. Weekends are skipped; public holidays
 * are NOT modelled (no exchange calendar yet), so a T+2 across a holiday comes
 * a day early. Dates are `YYYY-MM-DD` in the exchange time zone.
 */

/** Day of week of a calendar date, 0 = Sunday. */
function dow(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay();
}

function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export const isWeekend = (date: string): boolean => {
  const d = dow(date);
  return d === 0 || d === 6;
};

/** The trading day `n` trading days after `date` (n = 0: `date` itself, or the next weekday if it is a weekend). */
export function addTradingDays(date: string, n: number): string {
  let d = date;
  while (isWeekend(d)) d = addDays(d, 1);
  for (let i = 0; i < n; i++) {
    d = addDays(d, 1);
    while (isWeekend(d)) d = addDays(d, 1);
  }
  return d;
}
