/** Plain-text output helpers: aligned tables, key/value blocks, ages and optional colour. */

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Longer cells are cut to this many characters, ending with `…`. */
  maxWidth?: number;
}

export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';

const SGR: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI = /\x1b\[[0-9;]*m/g;

export interface Painter {
  readonly enabled: boolean;
  paint(text: string, style: Style): string;
}

/** Colour only on a terminal, and never when `NO_COLOR` is set to a non-empty value (no-color.org). */
export function colorEnabled(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export function painter(enabled: boolean): Painter {
  return {
    enabled,
    paint: (text, style) =>
      enabled && text !== '' ? `\x1b[${SGR[style][0]}m${text}\x1b[${SGR[style][1]}m` : text,
  };
}

export const plain: Painter = painter(false);

export function visibleLength(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

function truncate(text: string, max: number | undefined): string {
  if (max === undefined || max < 1) return text;
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Renders rows under headers, columns separated by two spaces, trailing spaces trimmed.
 * Cells may already carry colour; widths count visible characters only.
 */
export function formatTable(columns: Column[], rows: string[][], p: Painter = plain): string {
  const cells = rows.map((row) =>
    columns.map((col, i) => {
      const raw = row[i] ?? '';
      return col.maxWidth !== undefined && raw.replace(ANSI, '') === raw ? truncate(raw, col.maxWidth) : raw;
    }),
  );
  const widths = columns.map((col, i) =>
    Math.max(visibleLength(col.header), ...cells.map((row) => visibleLength(row[i] ?? ''))),
  );
  const line = (row: string[], style?: Style): string =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat(Math.max(0, widths[i]! - visibleLength(cell)));
        const shown = style ? p.paint(cell, style) : cell;
        return columns[i]!.align === 'right' ? pad + shown : shown + pad;
      })
      .join('  ')
      .trimEnd();
  const out = [
    line(
      columns.map((c) => c.header),
      'bold',
    ),
    ...cells.map((row) => line(row)),
  ];
  return `${out.join('\n')}\n`;
}

/** Renders `Label  value` pairs with the labels aligned. */
export function formatKeyValues(pairs: [string, string][], p: Painter = plain): string {
  const width = Math.max(0, ...pairs.map(([k]) => visibleLength(k)));
  return pairs.map(([k, v]) => `${p.paint(k.padEnd(width), 'bold')}  ${v}`.trimEnd()).join('\n') + '\n';
}

/** Compact age of a timestamp relative to now: `12s`, `5m`, `3h`, `2d`; `-` when unknown. */
export function formatAge(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return compactSpan(now - t);
}

function compactSpan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** A timestamp with its age: `2025-01-02T03:04:05.000Z (5m ago)`. */
export function formatTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const delta = t - now;
  return delta > 1000 ? `${iso} (in ${compactSpan(delta)})` : `${iso} (${compactSpan(-delta)} ago)`;
}

const STATE_STYLE: Record<string, Style> = {
  RUNNING: 'green',
  ACTIVE: 'green',
  PENDING: 'yellow',
  TERMINATING: 'yellow',
  CLOSING: 'yellow',
  ERROR: 'red',
  TERMINATED: 'dim',
  CLOSED: 'dim',
};

export function paintState(state: string, p: Painter): string {
  const style = STATE_STYLE[state];
  return style ? p.paint(state, style) : state;
}

/** Flattens nested JSON into dotted keys for a key/value view of a shape the CLI does not know. */
export function flatten(value: unknown, prefix = ''): [string, string][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return prefix ? [[prefix, '{}']] : [];
    return entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      return [[prefix, value.length === 0 ? '[]' : value.map((v) => String(v)).join(', ')]];
    }
    return value.flatMap((v, i) => flatten(v, `${prefix}[${i}]`));
  }
  return [[prefix, value === null || value === undefined ? '-' : String(value)]];
}

export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
