// Entity ids are a prefix and the zero-padded index ("u000123" is user 123), so converting between
// ids and the columnar tables' indices needs no lookup table, even for millions of rows.

/** Digits of the widest index among `count` ids, at least six. */
export function idWidth(count: number): number {
  return Math.max(6, String(Math.max(0, count - 1)).length);
}

export class IdFormat {
  readonly width: number;

  constructor(
    readonly prefix: string,
    readonly count: number,
  ) {
    this.width = idWidth(count);
  }

  id(index: number): string {
    return this.prefix + String(index).padStart(this.width, '0');
  }

  /** The index of an id of this format, or undefined if it is not one. */
  index(id: string): number | undefined {
    if (id.length !== this.prefix.length + this.width || !id.startsWith(this.prefix)) return undefined;
    let index = 0;
    for (let i = this.prefix.length; i < id.length; i++) {
      const digit = id.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return undefined;
      index = index * 10 + digit;
    }
    return index < this.count ? index : undefined;
  }
}
