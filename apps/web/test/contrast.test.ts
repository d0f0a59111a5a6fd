import { readFileSync } from 'node:fs';

/** Theme variables as declared in styles.css, per theme block. */
function themeVars(theme: 'light' | 'dark'): Record<string, string> {
  const css = readFileSync(new URL('../src/styles.css', import.meta.url), 'utf8');
  const block = theme === 'light' ? /:root,\s*:root\[data-theme='light'\]\s*\{([^}]*)\}/ : /:root\[data-theme='dark'\]\s*\{([^}]*)\}/;
  const body = block.exec(css)?.[1] ?? '';
  return Object.fromEntries([...body.matchAll(/--([\w-]+):\s*([^;]+);/g)].map((m) => [m[1]!, m[2]!.trim()]));
}

// WCAG 2.x relative luminance and contrast ratio.
function luminance(hex: string): number {
  const n = hex.replace('#', '');
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(n.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}
const contrast = (a: string, b: string) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x! + 0.05) / (y! + 0.05);
};

describe.each(['light', 'dark'] as const)('%s theme contrast (WCAG AA, 4.5:1 for text)', (theme) => {
  const v = themeVars(theme);
  it.each(['fg', 'muted', 'ceiling', 'floor', 'ref', 'up', 'down', 'accent', 'danger'])('--%s on the page, alternate rows and hovered rows', (name) => {
    expect(v[name]).toMatch(/^#[0-9a-f]{6}$/i);
    for (const bg of ['bg', 'bg-alt', 'bg-head']) expect(contrast(v[name]!, v[bg]!), `${name} on ${bg}`).toBeGreaterThanOrEqual(4.5);
  });
  it('keeps the five price tones distinct colours', () => {
    const tones = ['ceiling', 'floor', 'ref', 'up', 'down'].map((k) => v[k]!.toLowerCase());
    expect(new Set(tones).size).toBe(5);
  });
});
