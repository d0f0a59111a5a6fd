/**
 * Render counts of the board, read by tests and by the browser benchmark
 * (exposed as `window.__stockTracker.renders`) to prove that one symbol's
 * update re-renders one row, not the board.
 */
export interface RenderStats {
  board: number;
  rows: number;
  bySymbol: Record<string, number>;
}

export const renderStats: RenderStats = { board: 0, rows: 0, bySymbol: {} };

export function countRowRender(symbol: string): void {
  renderStats.rows++;
  renderStats.bySymbol[symbol] = (renderStats.bySymbol[symbol] ?? 0) + 1;
}

export function countBoardRender(): void {
  renderStats.board++;
}

export function resetRenderStats(): void {
  renderStats.board = 0;
  renderStats.rows = 0;
  renderStats.bySymbol = {};
}
