/**
 * The price board page: tabs, search, the board, watchlist management. Tab
 * and search live in the URL so a reload or a shared link shows the same view.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useNavigate, useSearchParams } from 'react-router-dom';
import type { SymbolRef } from '@stock-tracker/protocol';
import { BoardTabs, type TabItem } from '../components/board/BoardTabs.tsx';
import { DEFAULT_SORT, filterSymbols, nextSort, tabId, type BoardTab, type SortState, type SymbolInfo } from '../components/board/board-model.ts';
import type { SortKey } from '../components/board/columns.ts';
import { PriceBoard } from '../components/board/PriceBoard.tsx';
import { StaleNotice, useIsLive } from '../components/ConnectionStatus.tsx';
import { WatchMenu } from '../components/WatchMenu.tsx';
import { EXCHANGES } from '../lib/market.ts';
import { useMedia } from '../lib/use-media.ts';
import { useWatchlists } from '../lib/use-watchlists.ts';
import { useKeys } from '../store/hooks.ts';
import { useServices } from '../services.tsx';

/** Reads `?tab=` (as written by tabId) back into a tab; unknown values fall back to all. */
export function parseTab(v: string | null): BoardTab {
  if (!v || v === 'all') return { kind: 'all' };
  const [kind, ...rest] = v.split(':');
  const arg = rest.join(':');
  if (!arg) return { kind: 'all' };
  if (kind === 'ex') return { kind: 'exchange', exchange: arg.toUpperCase() };
  if (kind === 'ix') return { kind: 'index', index: arg.toUpperCase() };
  if (kind === 'wl') return { kind: 'watchlist', id: arg };
  return { kind: 'all' };
}

export default function BoardPage() {
  const { api, quotes, connection } = useServices();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  // Local state answers keystrokes at once; the URL follows (a controlled input bound to the URL drops keys).
  const [tab, setTabState] = useState<BoardTab>(() => parseTab(params.get('tab')));
  const [query, setQuery] = useState(() => params.get('q') ?? '');
  useEffect(() => {
    const next = new URLSearchParams();
    if (tab.kind !== 'all') next.set('tab', tabId(tab));
    if (query) next.set('q', query);
    if (next.toString() !== new URLSearchParams(window.location.search).toString()) setParams(next, { replace: true });
  }, [tabId(tab), query, setParams]);
  const [sort, setSort] = useState<SortState>(DEFAULT_SORT);
  const [menu, setMenu] = useState<{ symbol: string; anchor: HTMLElement } | null>(null);
  const compact = useMedia('(max-width: 720px)');
  const live = useIsLive(connection);
  const search = useRef<HTMLInputElement>(null);
  const wl = useWatchlists();

  const refsQuery = useQuery({ queryKey: ['symbols'], queryFn: ({ signal }) => api.symbols({}, { signal }), staleTime: 5 * 60_000 });
  // The REST board snapshot fills rows before the stream's snapshots arrive; the store keeps whichever is newer.
  const snapshot = useQuery({ queryKey: ['quotes'], queryFn: ({ signal }) => api.quotes({}, { signal }), staleTime: Infinity });
  useEffect(() => {
    for (const q of snapshot.data?.items ?? []) quotes.set(q.symbol, q);
  }, [snapshot.data, quotes]);

  const refs = useMemo(() => new Map((refsQuery.data?.items ?? []).map((r: SymbolRef) => [r.symbol, r])), [refsQuery.data]);
  const streamed = useKeys(quotes);
  const info = useCallback(
    (s: string): SymbolInfo | undefined => {
      const r = refs.get(s);
      if (r) return r;
      const q = quotes.get(s);
      return q ? { exchange: q.exchange } : undefined;
    },
    [refs, quotes],
  );
  const symbols = useMemo(() => filterSymbols(streamed, info, tab, query, wl.bySymbols), [streamed, info, tabId(tab), query, wl.bySymbols]);

  const tabs: TabItem[] = [
    { tab: { kind: 'all' }, label: 'All' },
    ...EXCHANGES.map((exchange): TabItem => ({ tab: { kind: 'exchange', exchange }, label: exchange })),
    { tab: { kind: 'index', index: 'VN30' }, label: 'VN30' },
    ...wl.lists.map((w): TabItem => ({ tab: { kind: 'watchlist', id: w.id }, label: `★ ${w.name}` })),
  ];

  const setTab = (t: BoardTab) => setTabState(t);

  const onSort = useCallback((key: SortKey) => setSort((s) => nextSort(s, key)), []);
  const onOpen = useCallback((s: string) => navigate(`/s/${encodeURIComponent(s)}`), [navigate]);
  const onWatch = useCallback((symbol: string, anchor: HTMLElement) => setMenu({ symbol, anchor }), []);
  const closeMenu = useCallback(() => setMenu(null), []);

  // "/" jumps to the search box from anywhere on the board, as on most trading boards.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.key === '/' && !(t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable))) {
        e.preventDefault();
        search.current?.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const activeList = tab.kind === 'watchlist' ? wl.lists.find((w) => w.id === tab.id) : undefined;
  const panelId = 'board-panel';
  // The board's scroll box is the tab panel; memoized so PriceBoard (memo) does not re-render for nothing.
  const boardPanel = useMemo(
    () => ({ id: panelId, role: 'tabpanel', 'aria-labelledby': `tab-${tabId(tab)}`, 'aria-busy': snapshot.isLoading, className: live ? undefined : 'stale' }),
    [tabId(tab), snapshot.isLoading, live],
  );

  return (
    <section className="board-page" aria-label="Price board">
      <div className="board-toolbar">
        <BoardTabs items={tabs} active={tabId(tab)} onChange={setTab} panelId={panelId} />
        <div className="board-search">
          <label htmlFor="board-search" className="visually-hidden">Search symbol or company</label>
          <input
            id="board-search"
            ref={search}
            type="search"
            placeholder="Search (/)…"
            autoComplete="off"
            spellCheck={false}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              // Enter on an exact symbol opens it; ↓ moves into the board.
              if (e.key === 'Enter' && symbols.length > 0) {
                const exact = symbols.find((s) => s.toLowerCase() === query.trim().toLowerCase());
                onOpen(exact ?? symbols[0]!);
              } else if (e.key === 'ArrowDown') {
                e.preventDefault();
                document.querySelector<HTMLElement>('.board tbody tr[tabindex="0"]')?.focus();
              }
            }}
          />
        </div>
        <NewWatchlist />
      </div>
      {activeList && <WatchlistActions id={activeList.id} name={activeList.name} onDeleted={() => setTab({ kind: 'all' })} />}
      <StaleNotice store={connection} />
      {snapshot.isError && streamed.length === 0 && <p className="error">Could not load the board: {(snapshot.error as Error).message}</p>}
      <PriceBoard
        symbols={symbols}
        store={quotes}
        sort={sort}
        onSort={onSort}
        onOpen={onOpen}
        watched={wl.watched}
        onWatch={onWatch}
        compact={compact}
        label={`Price board — ${tabs.find((t) => tabId(t.tab) === tabId(tab))?.label ?? 'All'}`}
        container={boardPanel}
      />
      <p className="board-foot muted">
        {symbols.length} symbols · prices in VND · ↑/↓ move, Enter opens, W watchlist, / search
      </p>
      {menu && <WatchMenu symbol={menu.symbol} anchor={menu.anchor} onClose={closeMenu} />}
    </section>
  );
}

function NewWatchlist() {
  const wl = useWatchlists();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  if (!open) {
    return (
      <button type="button" className="btn-secondary" onClick={() => setOpen(true)}>
        + Watchlist
      </button>
    );
  }
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!name.trim()) return;
        wl.create.mutate({ name: name.trim().slice(0, 60), symbols: [] });
        setName('');
        setOpen(false);
      }}
    >
      <label htmlFor="wl-name" className="visually-hidden">Watchlist name</label>
      <input id="wl-name" autoFocus value={name} maxLength={60} placeholder="Name" onChange={(e) => setName(e.target.value)} />
      <button type="submit" disabled={!name.trim()}>Create</button>
      <button type="button" className="link-btn" onClick={() => setOpen(false)}>Cancel</button>
    </form>
  );
}

function WatchlistActions({ id, name, onDeleted }: { id: string; name: string; onDeleted: () => void }) {
  const wl = useWatchlists();
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(name);
  return (
    <div className="watchlist-actions">
      {editing ? (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (value.trim()) wl.update.mutate({ id, name: value.trim().slice(0, 60) });
            setEditing(false);
          }}
        >
          <label htmlFor="wl-rename" className="visually-hidden">New name</label>
          <input id="wl-rename" autoFocus value={value} maxLength={60} onChange={(e) => setValue(e.target.value)} />
          <button type="submit">Save</button>
        </form>
      ) : (
        <button type="button" className="link-btn" onClick={() => setEditing(true)}>Rename “{name}”</button>
      )}
      <button
        type="button"
        className="link-btn danger"
        onClick={() => {
          if (window.confirm(`Delete the watchlist “${name}”?`)) wl.remove.mutate(id, { onSuccess: onDeleted });
        }}
      >
        Delete
      </button>
      <span className="muted">Add symbols with ☆ on a row or W on the focused row.</span>
    </div>
  );
}
