// Adam (Kingma & Ba) for the dense parameters, and its lazy variant for embedding rows: only the rows
// a batch touched are updated (their moments too), as in TensorFlow's LazyAdam. Updating every row
// of a large table on every step would cost more than the network itself.

export interface AdamSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM: AdamSettings = { learningRate: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export class Adam {
  private step = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly tableM: Float32Array;
  private readonly tableV: Float32Array;

  /**
   * rateScale[i] multiplies the learning rate of dense[i] (default 1), for parameters that must move
   * further than the rest in the same number of steps.
   */
  constructor(
    private readonly settings: AdamSettings,
    dense: Float32Array[],
    table: Float32Array,
    private readonly rateScale: number[] = dense.map(() => 1),
  ) {
    this.m = dense.map((p) => new Float32Array(p.length));
    this.v = dense.map((p) => new Float32Array(p.length));
    this.tableM = new Float32Array(table.length);
    this.tableV = new Float32Array(table.length);
  }

  /**
   * One update. `touchedRows[0..touchedCount)` lists the embedding rows with a gradient; their
   * gradient entries are zeroed here, so the gradient table is clean for the next batch.
   */
  update(
    dense: Float32Array[],
    denseGrads: Float32Array[],
    table: Float32Array,
    tableGrad: Float32Array,
    dim: number,
    touchedRows: Int32Array,
    touchedCount: number,
  ): void {
    const { learningRate, beta1, beta2, epsilon } = this.settings;
    this.step++;
    // Bias correction folded into the step size.
    const stepSize = (learningRate * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
    const b1c = 1 - beta1;
    const b2c = 1 - beta2;
    for (let i = 0; i < dense.length; i++) {
      const p = dense[i]!;
      const g = denseGrads[i]!;
      const m = this.m[i]!;
      const v = this.v[i]!;
      const step = stepSize * this.rateScale[i]!;
      for (let j = 0; j < p.length; j++) {
        const gj = g[j]!;
        const mj = beta1 * m[j]! + b1c * gj;
        const vj = beta2 * v[j]! + b2c * gj * gj;
        m[j] = mj;
        v[j] = vj;
        p[j] = p[j]! - (step * mj) / (Math.sqrt(vj) + epsilon);
      }
    }
    const m = this.tableM;
    const v = this.tableV;
    for (let t = 0; t < touchedCount; t++) {
      const start = touchedRows[t]! * dim;
      const end = start + dim;
      for (let j = start; j < end; j++) {
        const gj = tableGrad[j]!;
        tableGrad[j] = 0;
        const mj = beta1 * m[j]! + b1c * gj;
        const vj = beta2 * v[j]! + b2c * gj * gj;
        m[j] = mj;
        v[j] = vj;
        table[j] = table[j]! - (stepSize * mj) / (Math.sqrt(vj) + epsilon);
      }
    }
  }
}
