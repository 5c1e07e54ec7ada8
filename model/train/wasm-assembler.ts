// Just enough of the WebAssembly binary format to emit the SIMD kernels in simd-kernels.ts at run
// time: functions with i32 parameters and no results over one imported memory. Emitting bytes here
// avoids a build step and a toolchain dependency (wat2wasm) for ~100 instructions.

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const SIMD = 0xfd;

/** A function body under construction; methods append one instruction each. */
export class Code {
  readonly bytes: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(readonly paramCount: number) {}

  /** Declares a local of the given type and returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.paramCount + this.localTypes.length - 1;
  }

  private emit(...bytes: number[]): this {
    for (const b of bytes) this.bytes.push(b);
    return this;
  }

  get(i: number): this { return this.emit(0x20, ...uleb(i)); }
  set(i: number): this { return this.emit(0x21, ...uleb(i)); }
  i32(v: number): this { return this.emit(0x41, ...sleb(v)); }
  f32(v: number): this {
    const bytes = new Uint8Array(new Float32Array([v]).buffer);
    return this.emit(0x43, ...bytes);
  }
  add(): this { return this.emit(0x6a); }
  sub(): this { return this.emit(0x6b); }
  mul(): this { return this.emit(0x6c); }
  shl(): this { return this.emit(0x74); }
  gtS(): this { return this.emit(0x4a); }
  geS(): this { return this.emit(0x4e); }
  eqz(): this { return this.emit(0x45); }
  eq(): this { return this.emit(0x46); }
  f32Load(offset = 0): this { return this.emit(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0): this { return this.emit(0x38, 2, ...uleb(offset)); }
  f32Add(): this { return this.emit(0x92); }
  f32Mul(): this { return this.emit(0x94); }
  f32Max(): this { return this.emit(0x97); }
  v128Load(offset = 0): this { return this.emit(SIMD, 0x00, 4, ...uleb(offset)); }
  v128Store(offset = 0): this { return this.emit(SIMD, 0x0b, 4, ...uleb(offset)); }
  v128Zero(): this { return this.emit(SIMD, 0x0c, ...new Array<number>(16).fill(0)); }
  f32x4Splat(): this { return this.emit(SIMD, 0x13); }
  f32x4Add(): this { return this.emit(SIMD, ...uleb(0xe4)); }
  f32x4Mul(): this { return this.emit(SIMD, ...uleb(0xe6)); }
  f32x4Max(): this { return this.emit(SIMD, ...uleb(0xe9)); }
  /** if (condition on the stack) { then() } */
  ifThen(then: () => void): this {
    this.emit(0x04, 0x40);
    then();
    return this.emit(0x0b);
  }
  /** if (condition on the stack) { then() } else { otherwise() } */
  ifElse(then: () => void, otherwise: () => void): this {
    this.emit(0x04, 0x40);
    then();
    this.emit(0x05);
    otherwise();
    return this.emit(0x0b);
  }
  /**
   * A loop that runs body() while condition() (which must leave an i32 on the stack) is non-zero,
   * checking before each iteration.
   */
  whileLoop(condition: () => void, body: () => void): this {
    this.emit(0x02, 0x40, 0x03, 0x40); // block, loop
    condition();
    this.emit(0x45, 0x0d, 1); // i32.eqz; br_if 1 (leave the block)
    body();
    return this.emit(0x0c, 0, 0x0b, 0x0b); // br 0 (repeat); end loop; end block
  }

  encode(): number[] {
    // Locals are declared as runs of one type.
    const runs: Array<[number, number]> = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const body = [...uleb(runs.length), ...runs.flatMap(([n, t]) => [...uleb(n), t]), ...this.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

/** A module importing env.memory and exporting the given functions (i32 params, no results). */
export function encodeModule(functions: Array<{ name: string; code: Code }>): Uint8Array {
  const types = functions.flatMap((f) => [0x60, ...uleb(f.code.paramCount), ...new Array<number>(f.code.paramCount).fill(I32), 0]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [...uleb(functions.length), ...types]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 0x01]),
    ...section(3, [...uleb(functions.length), ...functions.map((_, i) => uleb(i)).flat()]),
    ...section(7, [...uleb(functions.length), ...functions.flatMap((f, i) => [...name(f.name), 0x00, ...uleb(i)])]),
    ...section(10, [...uleb(functions.length), ...functions.flatMap((f) => f.code.encode())]),
  ]);
}
