/** Board tabs (exchanges, VN30, watchlists) with arrow-key navigation, per the ARIA tabs pattern. */
import { useRef, type KeyboardEvent } from 'react';
import { tabId, type BoardTab } from './board-model.ts';

export interface TabItem {
  tab: BoardTab;
  label: string;
}

export function BoardTabs({ items, active, onChange, panelId }: { items: TabItem[]; active: string; onChange: (t: BoardTab) => void; panelId: string }) {
  const list = useRef<HTMLDivElement>(null);
  const onKeyDown = (e: KeyboardEvent) => {
    const i = items.findIndex((t) => tabId(t.tab) === active);
    let j: number | null = null;
    if (e.key === 'ArrowRight') j = (i + 1) % items.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + items.length) % items.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = items.length - 1;
    if (j === null) return;
    e.preventDefault();
    onChange(items[j]!.tab);
    list.current?.querySelectorAll<HTMLElement>('[role="tab"]')[j]?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label="Board" ref={list} onKeyDown={onKeyDown}>
      {items.map((t) => {
        const id = tabId(t.tab);
        const selected = id === active;
        return (
          <button
            key={id}
            type="button"
            role="tab"
            id={`tab-${id}`}
            aria-selected={selected}
            aria-controls={panelId}
            tabIndex={selected ? 0 : -1}
            className="tab"
            onClick={() => onChange(t.tab)}
          >
            {t.label}
          </button>
        );
      })}
    </div>
  );
}
