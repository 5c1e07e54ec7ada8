// Team-draft interleaving (Radlinski, Kurup & Joachims 2008): two rankings of the same candidates
// are merged into one slate; in each round the team with fewer picks so far (a coin toss on a tie)
// takes its highest-ranked item not yet in the slate. Every item is credited to the team that
// picked it, so clicks can be counted per team: the arm whose items get more clicks in a request
// wins it. The coin is seeded from the request id, so a request always gets the same slate.

export interface Interleaved {
  /** rows in served order */
  order: number[];
  /** per position: 0 if team A picked it, 1 if team B did */
  team: Array<0 | 1>;
}

/** A seed from a string (FNV-1a 32). */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small seeded coin (mulberry32). */
export function coin(seed: number): () => boolean {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) < 0x80000000;
  };
}

/**
 * Merges rankings `a` and `b` (row indices, best first; they may differ in length and content when
 * the arms' own rules filtered differently). The result holds every row of either, once.
 */
export function teamDraft(a: readonly number[], b: readonly number[], flip: () => boolean): Interleaved {
  const order: number[] = [];
  const team: Array<0 | 1> = [];
  const used = new Set<number>();
  let ia = 0;
  let ib = 0;
  let picksA = 0;
  let picksB = 0;
  const nextOf = (list: readonly number[], i: number): number => {
    while (i < list.length && used.has(list[i]!)) i++;
    return i;
  };
  for (;;) {
    ia = nextOf(a, ia);
    ib = nextOf(b, ib);
    const aLeft = ia < a.length;
    const bLeft = ib < b.length;
    if (!aLeft && !bLeft) break;
    const pickA = aLeft && (!bLeft || picksA < picksB || (picksA === picksB && flip()));
    const row = pickA ? a[ia]! : b[ib]!;
    used.add(row);
    order.push(row);
    team.push(pickA ? 0 : 1);
    if (pickA) picksA++;
    else picksB++;
  }
  return { order, team };
}
