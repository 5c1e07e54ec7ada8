// The playground's browser code (served as /playground.js, compiled by `npm run build:playground`).
// Plain DOM, no framework: load the model summary, the experiment arms and sample users and slates;
// send /v1/rank with explain=true; show the request order beside the served order with each item's
// probabilities, score parts and the rules that moved it. Everything shown goes through textContent,
// never innerHTML: ids and fields come from pasted JSON.

interface ModelSummary {
  default: string;
  models: Array<{ id: string; version: string; objective: unknown }>;
}
interface Health {
  feature_set: { version: string | null; error?: string };
  experiments: { experiment: string; arms: Array<{ name: string; kind: string; share: number }>; error?: string };
}
interface Samples {
  feature_set: string | null;
  users: Array<{ id: string; segment: string | null; clicks: number | null }>;
  slates: Array<{ name: string; context: { device: string; page: string }; items: RequestItem[] }>;
  catalog: Record<string, { category: string | null; brand: string | null }>;
}
interface RequestItem {
  id: string;
  price?: number;
  [field: string]: unknown;
}
interface Move {
  rule: string;
  from: number;
  to: number;
  factor?: number;
}
interface RankedItem {
  id: string;
  score: number;
  p_ctr: number | null;
  p_cvr: number | null;
  arm?: string | null;
  explain?: { objective: number; multiplier: number; price: number | null; rank_before_rules: number; moves: Move[] };
}
interface RankResponse {
  request_id: string;
  model: { id: string; version: string };
  arm: string;
  feature_set: string | null;
  items: RankedItem[];
  fallback: string | null;
  explain?: { arm_kind: string; objective: unknown; removed: Array<{ id: string; rule: string; detail?: string }> };
  error?: { code: string; message: string; path?: string };
}

const OBJECTIVES: Record<string, object> = {
  expected_revenue: { kind: 'expected_revenue', price_exponent: 1 },
  ctcvr: { kind: 'ctcvr' },
  ctr: { kind: 'ctr' },
};

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

const ui = {
  status: byId<HTMLParagraphElement>('status'),
  form: byId<HTMLFormElement>('controls'),
  user: byId<HTMLInputElement>('user'),
  users: byId<HTMLDataListElement>('users'),
  device: byId<HTMLSelectElement>('device'),
  page: byId<HTMLSelectElement>('page'),
  k: byId<HTMLInputElement>('k'),
  slate: byId<HTMLSelectElement>('slate'),
  items: byId<HTMLTextAreaElement>('items'),
  objective: byId<HTMLSelectElement>('objective'),
  arm: byId<HTMLSelectElement>('arm'),
  token: byId<HTMLInputElement>('token'),
  rank: byId<HTMLButtonElement>('rank'),
  error: byId<HTMLParagraphElement>('error'),
  result: byId<HTMLElement>('result'),
  requestRows: byId<HTMLTableElement>('request-order').tBodies[0]!,
  rankedRows: byId<HTMLTableElement>('ranked-order').tBodies[0]!,
  removed: byId<HTMLParagraphElement>('removed'),
};

let catalog: Samples['catalog'] = {};
let samples: Samples | null = null;
/** the last served order of the slate in the textarea, to mark what a switch moved */
let previous: { slate: string; order: string[] } | null = null;
/** numbers the rank calls: a switch made while a request is in flight wins over that request */
let latest = 0;

function option(value: string, label = value): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  return o;
}

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fixed(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined) return '–';
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toPrecision(digits);
}

function showError(message: string | null): void {
  ui.error.hidden = message === null;
  ui.error.textContent = message ?? '';
}

async function getJson<T>(path: string): Promise<{ status: number; body: T | null }> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  return { status: res.status, body: res.ok ? ((await res.json()) as T) : null };
}

/** One item per line: a 50-item slate stays readable and easy to edit. */
function itemsText(items: RequestItem[]): string {
  return `[\n${items.map((item) => ` ${JSON.stringify(item)}`).join(',\n')}\n]`;
}

function loadSlate(index: number): void {
  const slate = samples?.slates[index];
  if (!slate) return;
  ui.items.value = itemsText(slate.items);
  ui.device.value = slate.context.device;
  ui.page.value = slate.context.page;
}

async function init(): Promise<void> {
  const [model, health, sample] = await Promise.all([getJson<ModelSummary>('/v1/model'), getJson<Health>('/healthz'), getJson<Samples>('/playground/samples')]);
  const status: string[] = [];
  const served = model.body?.models.find((m) => m.id === model.body?.default);
  if (served) status.push(`default model ${served.id} @ ${served.version}`);
  // /healthz answers 503-free JSON even when degraded; only its body matters here.
  const h = health.body;
  if (h) {
    status.push(`feature set ${h.feature_set.version ?? 'none'}`);
    status.push(`experiment ${h.experiments.experiment}: arms ${h.experiments.arms.map((a) => `${a.name} (${a.kind}, ${a.share}%)`).join(', ')}`);
    for (const arm of h.experiments.arms) ui.arm.append(option(arm.name, `${arm.name} (${arm.kind})`));
  }
  samples = sample.body;
  if (samples && samples.users.length + samples.slates.length > 0) {
    catalog = samples.catalog;
    for (const user of samples.users) ui.users.append(option(user.id, [user.segment, user.clicks === null ? null : `${user.clicks} clicks`].filter(Boolean).join(', ')));
    samples.slates.forEach((slate, i) => ui.slate.append(option(String(i), slate.name)));
    ui.user.value = samples.users[0]?.id ?? '';
    loadSlate(0);
  } else {
    ui.slate.append(option('', 'no samples: paste items below'));
    status.push(sample.status === 404 ? 'samples are off (PLAYGROUND_SAMPLES=on serves them; npm start does)' : 'no feature set to take samples from');
    ui.items.value = itemsText([{ id: 'i000001', price: 20 }, { id: 'i000002', price: 35 }, { id: 'i000003', price: 12 }]);
  }
  ui.status.textContent = status.join(' · ');
}

/** The textarea holds an array of items or a whole rank request; the form's fields win over the request's. */
function requestFromForm(): { body: Record<string, unknown>; items: RequestItem[] } {
  let pasted: unknown;
  try {
    pasted = JSON.parse(ui.items.value);
  } catch (error) {
    throw new Error(`items: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const base: Record<string, unknown> = Array.isArray(pasted) ? { items: pasted } : typeof pasted === 'object' && pasted !== null ? { ...(pasted as Record<string, unknown>) } : {};
  if (!Array.isArray(base.items)) throw new Error('items: expected an array of items or a rank request with "items"');
  const items = base.items as RequestItem[];
  const context = typeof base.context === 'object' && base.context !== null ? (base.context as Record<string, unknown>) : {};
  const body: Record<string, unknown> = { ...base, context: { ...context, device: ui.device.value, page: ui.page.value }, explain: true };
  const user = ui.user.value.trim();
  if (user) body.user_id = user;
  else delete body.user_id;
  if (ui.k.value) body.k = Number(ui.k.value);
  const objective = OBJECTIVES[ui.objective.value];
  if (objective) body.objective = objective;
  else delete body.objective;
  return { body, items };
}

async function rank(): Promise<void> {
  showError(null);
  let request: ReturnType<typeof requestFromForm>;
  try {
    request = requestFromForm();
  } catch (error) {
    showError(error instanceof Error ? error.message : String(error));
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (ui.arm.value) {
    headers['x-experiment-arm'] = ui.arm.value;
    if (ui.token.value) headers['x-experiment-token'] = ui.token.value;
  }
  const call = ++latest;
  ui.rank.disabled = true;
  try {
    const res = await fetch('/v1/rank', { method: 'POST', headers, body: JSON.stringify(request.body) });
    const body = (await res.json()) as RankResponse;
    if (call !== latest) return;
    if (!res.ok || body.error) {
      const e = body.error;
      showError(e ? `${res.status} ${e.code}: ${e.message}${ui.arm.value && (res.status === 401 || res.status === 403) ? ' (picking an arm needs the QA token)' : ''}` : `HTTP ${res.status}`);
      return;
    }
    render(request.items, body, res.headers.get('server-timing'));
  } catch (error) {
    if (call === latest) showError(`request failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    if (call === latest) ui.rank.disabled = false;
  }
}

function describeObjective(objective: unknown): string {
  if (Array.isArray(objective)) return objective.map(describeObjective).join(' | ');
  if (typeof objective !== 'object' || objective === null) return '–';
  const { kind, ...params } = objective as Record<string, unknown>;
  const rest = Object.entries(params).map(([k, v]) => `${k}=${String(v)}`);
  return rest.length ? `${String(kind)} (${rest.join(', ')})` : String(kind);
}

function describeMoves(item: RankedItem): string {
  const parts = (item.explain?.moves ?? []).map((m) => `${m.rule}${m.factor !== undefined ? ` ×${fixed(m.factor, 3)}` : ''}: ${m.from} → ${m.to}`);
  if (item.arm !== undefined) parts.push(item.arm === null ? 'pinned' : `from arm ${item.arm}`);
  return parts.join('; ');
}

function render(items: RequestItem[], res: RankResponse, timing: string | null): void {
  ui.result.hidden = false;
  byId('meta-arm').textContent = res.arm + (res.explain ? ` (${res.explain.arm_kind})` : '');
  byId('meta-model').textContent = `${res.model.id} @ ${res.model.version}`;
  byId('meta-objective').textContent = describeObjective(res.explain?.objective);
  byId('meta-feature-set').textContent = res.feature_set ?? 'none (defaults)';
  byId('meta-fallback').textContent = res.fallback ?? 'none';
  const total = /total;dur=([\d.]+)/.exec(timing ?? '')?.[1];
  byId('meta-timing').textContent = total ? `${total} ms total` : '–';

  const position = new Map(items.map((item, i) => [item.id, i + 1]));
  ui.requestRows.replaceChildren();
  for (const [i, item] of items.entries()) {
    const row = ui.requestRows.insertRow();
    cell(row, String(i + 1));
    cell(row, item.id, 'id');
    cell(row, String(item.category ?? catalog[item.id]?.category ?? '–'));
    cell(row, typeof item.price === 'number' ? item.price.toFixed(2) : '–', 'num');
  }

  const slateKey = JSON.stringify(items.map((i) => i.id));
  const before = previous?.slate === slateKey ? previous.order : null;
  ui.rankedRows.replaceChildren();
  for (const [j, item] of res.items.entries()) {
    const row = ui.rankedRows.insertRow();
    row.dataset.id = item.id;
    if (before && before[j] !== item.id) row.className = 'changed';
    const was = position.get(item.id) ?? 0;
    cell(row, String(j + 1));
    cell(row, item.id, 'id');
    cell(row, was === j + 1 ? `${was}` : `${was} ${was > j + 1 ? '▲' : '▼'}`, was > j + 1 ? 'up' : was < j + 1 ? 'down' : undefined);
    cell(row, fixed(item.p_ctr), 'num');
    cell(row, fixed(item.p_cvr), 'num');
    cell(row, item.explain?.price === null || item.explain?.price === undefined ? '–' : item.explain.price.toFixed(2), 'num');
    cell(row, fixed(item.explain?.objective), 'num');
    cell(row, item.explain ? fixed(item.explain.multiplier, 3) : '–', 'num');
    cell(row, fixed(item.score), 'num');
    cell(row, describeMoves(item), 'rules');
  }
  previous = { slate: slateKey, order: res.items.map((i) => i.id) };
  const removed = res.explain?.removed ?? [];
  ui.removed.hidden = removed.length === 0;
  ui.removed.textContent = removed.length ? `removed by rules: ${removed.map((r) => `${r.id} (${r.rule}${r.detail ? `: ${r.detail}` : ''})`).join(', ')}` : '';
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void rank();
});
ui.slate.addEventListener('change', () => loadSlate(Number(ui.slate.value)));
// Switching what scores the slate re-ranks it at once, so the change in order is visible.
for (const control of [ui.objective, ui.arm]) {
  control.addEventListener('change', () => {
    if (!ui.result.hidden) void rank();
  });
}
init().catch((error: unknown) => showError(`could not load the playground: ${error instanceof Error ? error.message : String(error)}`));
