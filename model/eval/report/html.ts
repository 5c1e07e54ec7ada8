// HTML building blocks for the self-contained evaluation report: escaping, tables, sections and the
// page shell with its inline stylesheet. No framework, no external resources.

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Pre-rendered HTML (not escaped again). */
export interface Html {
  html: string;
}

export const raw = (html: string): Html => ({ html });

export type Cell = string | number | null | undefined | Html;

function cellHtml(cell: Cell): string {
  if (cell === null || cell === undefined) return '<span class="na">n/a</span>';
  if (typeof cell === 'object') return cell.html;
  if (typeof cell === 'number') return Number.isFinite(cell) ? escapeHtml(String(cell)) : '<span class="na">n/a</span>';
  return escapeHtml(cell);
}

/** A number with fixed decimals, or "n/a". */
export function fmt(x: number | null | undefined, digits = 4): string {
  return x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

/** "0.4097 [0.3529, 0.4663]" */
export function fmtCi(mean: number | null | undefined, ci: readonly [number, number] | null | undefined, digits = 4): string {
  if (mean === null || mean === undefined || !Number.isFinite(mean)) return 'n/a';
  return ci ? `${fmt(mean, digits)} [${fmt(ci[0], digits)}, ${fmt(ci[1], digits)}]` : fmt(mean, digits);
}

/** A signed percentage, e.g. "+12.3%". */
export function pct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(digits)}%`;
}

/** A table; with no headers, no header row (key-value tables). */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[], options: { caption?: string; className?: string } = {}): string {
  const head = headers.length > 0 ? `<tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>` : '';
  const body = rows.map((r) => `<tr>${r.map((cell) => `<td>${cellHtml(cell)}</td>`).join('')}</tr>`).join('\n');
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '';
  return `<table${options.className ? ` class="${escapeHtml(options.className)}"` : ''}>${caption}${head ? `<thead>${head}</thead>` : ''}<tbody>\n${body}\n</tbody></table>`;
}

export function section(id: string, title: string, ...body: string[]): string {
  return `<section id="${escapeHtml(id)}"><h2>${escapeHtml(title)}</h2>\n${body.join('\n')}\n</section>`;
}

export function paragraph(text: string): string {
  return `<p>${escapeHtml(text)}</p>`;
}

export function list(items: readonly (string | Html)[], className?: string): string {
  if (items.length === 0) return '';
  return `<ul${className ? ` class="${escapeHtml(className)}"` : ''}>${items.map((i) => `<li>${typeof i === 'string' ? escapeHtml(i) : i.html}</li>`).join('')}</ul>`;
}

export function details(summary: string, body: string): string {
  return `<details><summary>${escapeHtml(summary)}</summary>${body}</details>`;
}

export function pre(text: string): string {
  return `<pre>${escapeHtml(text)}</pre>`;
}

/** Charts side by side, wrapping on narrow screens. */
export function figures(...svgs: string[]): string {
  return `<div class="figures">${svgs.map((s) => `<figure>${s}</figure>`).join('')}</div>`;
}

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 28px 40px; background: #fff; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.sub { color: #555; margin: 0 0 12px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #555; padding: 2px 0 4px; font-size: 12px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; border-bottom: 1px solid #bbb; }
td:not(:first-child), th:not(:first-child) { text-align: right; }
table.kv td, table.kv th { text-align: left !important; }
.na { color: #999; }
.figures { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-start; }
figure { margin: 4px 0; }
ul.misses li { color: #8a1f11; }
ul.good li { color: #1d5e2e; }
.note { color: #555; font-size: 12.5px; }
pre { background: #f4f4f4; padding: 8px; overflow-x: auto; font-size: 12px; }
details { margin: 6px 0; }
code { background: #f2f2f2; padding: 0 3px; border-radius: 2px; }
.headline { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.headline div { border: 1px solid #ddd; border-radius: 4px; padding: 6px 10px; min-width: 150px; }
.headline b { display: block; font-size: 18px; }
.headline span { color: #555; font-size: 12px; }
`;

export function page(title: string, subtitle: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="sub">${escapeHtml(subtitle)}</p>
${body}
</main>
</body>
</html>
`;
}
