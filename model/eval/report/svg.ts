// Small inline-SVG charts for the evaluation report: horizontal bars with confidence-interval
// whiskers, and line charts (reliability curves with the diagonal, learning curves on a log axis).
// Plain strings, no framework and nothing fetched: the report must open offline as one file.

export const POLICY_COLORS: Readonly<Record<string, string>> = {
  int8: '#1f5fa8',
  fp32: '#86aedc',
  popularity: '#d9822b',
  logged: '#6f6f6f',
  random: '#b5b5b5',
  oracle: '#2e8b57',
};

export function colorOf(name: string): string {
  return POLICY_COLORS[name] ?? '#8e44ad';
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Coordinates with two decimals (short, and stable across runs). */
const c = (x: number): string => (Number.isFinite(x) ? String(Math.round(x * 100) / 100) : '0');

/** Round tick values covering [lo, hi], about `target` of them. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Powers of ten (and 2x, 5x between them when the range is short) covering [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0) || !(hi >= lo)) return [];
  const ticks: number[] = [];
  const decades = Math.log10(hi / lo);
  const mults = decades < 1.5 ? [1, 2, 3, 5] : decades < 3 ? [1, 3] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
      const t = m * 10 ** e;
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push(Number(t.toPrecision(12)));
    }
  }
  return ticks;
}

/** A short tick label: 3000000 -> 3M, 0.25 -> 0.25. */
export function shortNumber(x: number): string {
  const a = Math.abs(x);
  if (a >= 1e6) return `${Number((x / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((x / 1e3).toPrecision(3))}k`;
  if (a === 0) return '0';
  return String(Number(x.toPrecision(3)));
}

function svgOpen(width: number, height: number, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`;
}

function titleText(title: string, x: number): string {
  return `<text x="${c(x)}" y="18" font-size="14" font-weight="600" fill="#222">${escapeXml(title)}</text>`;
}

export interface Bar {
  /** policy key (colours the bar) */
  name: string;
  label: string;
  value: number | null;
  /** 95% interval drawn as a whisker */
  ci?: readonly [number, number] | null;
  /** text after the bar; default the formatted value (and interval) */
  text?: string;
}

export interface BarChartOptions {
  title: string;
  bars: readonly Bar[];
  xLabel?: string;
  /** value axis; default from 0 (or the smallest value) to the largest whisker, padded */
  domain?: readonly [number, number];
  width?: number;
  format?: (x: number) => string;
  /** vertical reference lines, e.g. the oracle's value */
  references?: readonly { value: number; label: string }[];
}

/** Horizontal bars, one row per policy, with whiskers for the interval and the value printed. */
export function barChart(options: BarChartOptions): string {
  const { bars } = options;
  const format = options.format ?? ((x: number) => x.toFixed(3));
  const width = options.width ?? 540;
  const left = 100;
  const right = 165;
  const top = 30;
  const row = 26;
  const axis = options.xLabel ? 44 : 30;
  const height = top + row * bars.length + axis;
  const values: number[] = [];
  for (const b of bars) {
    if (b.value !== null && Number.isFinite(b.value)) values.push(b.value);
    if (b.ci) values.push(...b.ci.filter((v) => Number.isFinite(v)));
  }
  for (const r of options.references ?? []) if (Number.isFinite(r.value)) values.push(r.value);
  let [lo, hi] = options.domain ?? [Math.min(0, ...values), Math.max(0, ...values)];
  if (!options.domain) {
    if (lo < 0) lo -= (hi - lo) * 0.05;
    hi += (hi - lo) * 0.05 || 1;
  }
  const plotWidth = width - left - right;
  const x = (v: number) => left + ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo || 1)) * plotWidth;
  const parts: string[] = [svgOpen(width, height, options.title), titleText(options.title, 4)];
  const ticks = niceTicks(lo, hi, 5);
  const axisY = top + row * bars.length;
  for (const t of ticks) {
    parts.push(`<line x1="${c(x(t))}" y1="${top - 4}" x2="${c(x(t))}" y2="${axisY}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${c(x(t))}" y="${axisY + 14}" text-anchor="middle" fill="#555">${escapeXml(shortNumber(t))}</text>`);
  }
  parts.push(`<line x1="${left}" y1="${axisY}" x2="${left + plotWidth}" y2="${axisY}" stroke="#999"/>`);
  if (options.xLabel) parts.push(`<text x="${c(left + plotWidth / 2)}" y="${axisY + 32}" text-anchor="middle" fill="#333">${escapeXml(options.xLabel)}</text>`);
  const zero = x(Math.max(lo, Math.min(hi, 0)));
  bars.forEach((b, i) => {
    const y = top + i * row;
    const mid = y + row / 2;
    parts.push(`<text x="${left - 8}" y="${c(mid + 4)}" text-anchor="end" fill="#222">${escapeXml(b.label)}</text>`);
    const ok = b.value !== null && Number.isFinite(b.value);
    if (ok) {
      const v = b.value!;
      const x0 = Math.min(zero, x(v));
      const w = Math.max(1, Math.abs(x(v) - zero));
      parts.push(`<rect x="${c(x0)}" y="${c(y + 5)}" width="${c(w)}" height="${row - 10}" fill="${colorOf(b.name)}" rx="2"><title>${escapeXml(`${b.label}: ${format(v)}`)}</title></rect>`);
    }
    if (b.ci && b.ci.every((v) => Number.isFinite(v))) {
      const [l, h] = b.ci;
      parts.push(`<line x1="${c(x(l))}" y1="${c(mid)}" x2="${c(x(h))}" y2="${c(mid)}" stroke="#222" stroke-width="1.5"/>`);
      for (const e of [l, h]) parts.push(`<line x1="${c(x(e))}" y1="${c(mid - 6)}" x2="${c(x(e))}" y2="${c(mid + 6)}" stroke="#222" stroke-width="1.5"/>`);
    }
    const text = b.text ?? (ok ? format(b.value!) + (b.ci && b.ci.every((v) => Number.isFinite(v)) ? ` [${format(b.ci[0])}, ${format(b.ci[1])}]` : '') : 'n/a');
    parts.push(`<text x="${left + plotWidth + 8}" y="${c(mid + 4)}" fill="#222">${escapeXml(text)}</text>`);
  });
  for (const r of options.references ?? []) {
    if (!Number.isFinite(r.value)) continue;
    parts.push(`<line x1="${c(x(r.value))}" y1="${top - 6}" x2="${c(x(r.value))}" y2="${axisY}" stroke="${colorOf('oracle')}" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${c(x(r.value))}" y="${top - 8}" text-anchor="middle" font-size="10" fill="${colorOf('oracle')}">${escapeXml(r.label)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

export interface Point {
  x: number;
  y: number;
  /** hover text */
  note?: string;
}

export interface Series {
  /** policy key (colour) */
  name: string;
  label: string;
  points: readonly Point[];
  dashed?: boolean;
  markers?: boolean;
  color?: string;
}

export interface LineChartOptions {
  title: string;
  series: readonly Series[];
  xLabel: string;
  yLabel: string;
  xScale?: 'linear' | 'log';
  xDomain?: readonly [number, number];
  yDomain?: readonly [number, number];
  /** draw y = x (reliability curves) */
  diagonal?: boolean;
  width?: number;
  height?: number;
  /** horizontal reference lines */
  references?: readonly { value: number; label: string; name: string }[];
}

/** Lines with optional markers; log or linear x; a legend under the title. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 420;
  const height = options.height ?? 340;
  const left = 58;
  const right = 16;
  const legendRows = Math.ceil(options.series.length / 3);
  const top = 30 + legendRows * 16;
  const bottom = 46;
  const log = options.xScale === 'log';
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of options.series) {
    for (const p of s.points) {
      if (Number.isFinite(p.x) && (!log || p.x > 0)) xs.push(p.x);
      if (Number.isFinite(p.y)) ys.push(p.y);
    }
  }
  for (const r of options.references ?? []) if (Number.isFinite(r.value)) ys.push(r.value);
  let [x0, x1] = options.xDomain ?? [xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1];
  let [y0, y1] = options.yDomain ?? [ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1];
  if (!options.yDomain) {
    const pad = (y1 - y0) * 0.08 || Math.abs(y1) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
  }
  if (!(x1 > x0)) {
    x0 = log ? x0 / 2 : x0 - 1;
    x1 = log ? x1 * 2 : x1 + 1;
  }
  if (log && !options.xDomain) {
    x0 /= 1.25;
    x1 *= 1.25;
  }
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const fx = (v: number) => (log ? Math.log(v / x0) / Math.log(x1 / x0) : (v - x0) / (x1 - x0));
  const X = (v: number) => left + fx(v) * plotW;
  const Y = (v: number) => top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const inside = (p: Point) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!log || p.x > 0);
  const parts: string[] = [svgOpen(width, height, options.title), titleText(options.title, 4)];
  options.series.forEach((s, i) => {
    const lx = 8 + (i % 3) * Math.floor((width - 16) / 3);
    const ly = 34 + Math.floor(i / 3) * 16;
    const color = s.color ?? colorOf(s.name);
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    parts.push(`<text x="${lx + 23}" y="${ly}" font-size="11" fill="#333">${escapeXml(s.label)}</text>`);
  });
  const xTicks = log ? logTicks(x0, x1) : niceTicks(x0, x1, 5);
  const yTicks = niceTicks(y0, y1, 5);
  for (const t of xTicks) {
    parts.push(`<line x1="${c(X(t))}" y1="${top}" x2="${c(X(t))}" y2="${top + plotH}" stroke="#ececec"/>`);
    parts.push(`<text x="${c(X(t))}" y="${top + plotH + 15}" text-anchor="middle" fill="#555">${escapeXml(shortNumber(t))}</text>`);
  }
  for (const t of yTicks) {
    parts.push(`<line x1="${left}" y1="${c(Y(t))}" x2="${left + plotW}" y2="${c(Y(t))}" stroke="#ececec"/>`);
    parts.push(`<text x="${left - 6}" y="${c(Y(t) + 4)}" text-anchor="end" fill="#555">${escapeXml(shortNumber(t))}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${c(plotW)}" height="${c(plotH)}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${c(left + plotW / 2)}" y="${height - 8}" text-anchor="middle" fill="#333">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${c(top + plotH / 2)}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(options.yLabel)}</text>`);
  if (options.diagonal) {
    const lo = Math.max(x0, y0);
    const hi = Math.min(x1, y1);
    if (hi > lo) parts.push(`<line x1="${c(X(lo))}" y1="${c(Y(lo))}" x2="${c(X(hi))}" y2="${c(Y(hi))}" stroke="#999" stroke-dasharray="3 3"/>`);
  }
  for (const r of options.references ?? []) {
    if (!Number.isFinite(r.value)) continue;
    parts.push(`<line x1="${left}" y1="${c(Y(r.value))}" x2="${left + plotW}" y2="${c(Y(r.value))}" stroke="${colorOf(r.name)}" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${left + plotW - 4}" y="${c(Y(r.value) - 4)}" text-anchor="end" font-size="10" fill="${colorOf(r.name)}">${escapeXml(r.label)}</text>`);
  }
  for (const s of options.series) {
    const color = s.color ?? colorOf(s.name);
    const pts = s.points.filter(inside);
    if (pts.length > 1) {
      const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${c(X(p.x))} ${c(Y(p.y))}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    }
    if (s.markers !== false) {
      for (const p of pts) {
        parts.push(`<circle cx="${c(X(p.x))}" cy="${c(Y(p.y))}" r="3" fill="${color}"><title>${escapeXml(p.note ?? `${s.label}: (${shortNumber(p.x)}, ${shortNumber(p.y)})`)}</title></circle>`);
      }
    }
  }
  parts.push('</svg>');
  return parts.join('');
}
