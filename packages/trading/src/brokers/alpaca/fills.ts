/**
 * Exactly-once fills for one Alpaca order. An order's filled quantity only
 * grows, so "how much has been delivered" is a mark on that line: an
 * execution (cumulative quantity `cum` after it, its own `qty` and `price`)
 * is delivered only for the part above the mark. Whatever reports it (the
 * stream, the FILL activities after a reconnect, both, twice) the same
 * quantity is never delivered twice, and executions skipped over (a message
 * lost without a disconnect) are delivered when a later one reveals them,
 * valued so that the delivered total matches the order's average price.
 */
export interface FillPiece {
  qty: number;
  price: number;
  /** Cumulative quantity after this piece (the mark it moves to). */
  cum: number;
}

const EPS = 1e-9;
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

export class FillLedger {
  deliveredQty = 0;
  deliveredValue = 0;

  constructor(qty = 0, value = 0) {
    this.deliveredQty = qty;
    this.deliveredValue = value;
  }

  /**
   * The pieces to deliver for an execution (none when it was delivered
   * already). `avg` is the order's average fill price after it, when known
   * (stream messages carry the order; activities do not): with it, skipped
   * executions become one piece priced from the average; without it, the
   * skipped quantity is delivered at this execution's price.
   */
  take(cum: number, qty: number, price: number, avg: number | null): FillPiece[] {
    if (cum <= this.deliveredQty + EPS) return [];
    const out: FillPiece[] = [];
    const before = cum - qty;
    if (before > this.deliveredQty + EPS && avg !== null) {
      const gapQty = before - this.deliveredQty;
      out.push(this.push(gapQty, round4((avg * cum - price * qty - this.deliveredValue) / gapQty)));
      out.push(this.push(qty, price));
    } else {
      // Overlap (partly delivered) or an unvalued gap: deliver up to `cum` at this price.
      out.push(this.push(cum - this.deliveredQty, price));
    }
    return out;
  }

  /** The order reports more filled than delivered but no execution to show for it: the rest at the average. */
  catchUp(filledQty: number, avg: number | null): FillPiece[] {
    if (avg === null || filledQty <= this.deliveredQty + EPS) return [];
    const qty = filledQty - this.deliveredQty;
    return [this.push(qty, round4((avg * filledQty - this.deliveredValue) / qty))];
  }

  private push(qty: number, price: number): FillPiece {
    this.deliveredQty += qty;
    this.deliveredValue += qty * price;
    return { qty, price, cum: this.deliveredQty };
  }
}
