// Batched forward and backward passes over preallocated buffers: nothing is allocated per row or per
// batch. The forward pass here is the served model (no position tower); the tower is added on top
// of the CTR logit only when training or scoring logged impressions.
import { jsKernels, type KernelBackend, type Kernels } from './kernels.ts';
import { esmmLoss, softEsmmLoss } from './loss.ts';
import { inputWidth, interactionCount } from './model.ts';
import { SimdKernels } from './simd-kernels.ts';
import type { DenseLayer, RankerModel, TrainingSet } from './types.ts';

/** Activations (and, for training, their gradients) for up to `capacity` rows. */
export class Workspace {
  rows = 0;
  readonly inputWidth: number;
  /** pairwise dot products per row (between the embeddings and the numeric features in x) */
  readonly interactions: number;
  /** [capacity, C] field-local indices of the loaded rows */
  readonly cat: Int32Array;
  /** [capacity, C*dim + P + D] embeddings, their pairwise dot products, then numeric features */
  readonly x: Float32Array;
  /** post-ReLU output of each bottom layer */
  readonly bottomOut: Float32Array[];
  /** output of each head layer; the last holds the logits, [capacity] */
  readonly ctrOut: Float32Array[];
  readonly cvrOut: Float32Array[];
  /** served CTR logit plus the position tower */
  readonly ctrLogitWithPosition: Float32Array;
  readonly click: Uint8Array;
  readonly purchase: Uint8Array;
  /** soft targets of the loaded rows, when the set has them (distillation) */
  readonly clickTarget: Float32Array;
  readonly clickPurchaseTarget: Float32Array;
  readonly positionBucket: Int32Array;
  /** gradients w.r.t. the buffers above (allocated only for training) */
  readonly dX: Float32Array;
  readonly dBottom: Float32Array[];
  readonly dCtr: Float32Array[];
  readonly dCvr: Float32Array[];

  readonly kernels: Kernels;

  constructor(
    model: RankerModel,
    readonly capacity: number,
    training: boolean,
    backend: KernelBackend = 'simd',
  ) {
    const layers = [...model.bottom, ...model.ctrHead, ...model.cvrHead];
    const width = inputWidth(model);
    const activationWidth = layers.reduce((sum, l) => sum + l.outSize, 0);
    this.kernels =
      backend === 'js'
        ? jsKernels
        : new SimdKernels({
            arenaFloats: capacity * (width + activationWidth) * (training ? 2 : 1),
            maxWeights: Math.max(...layers.map((l) => l.inSize * l.outSize)),
            maxOut: Math.max(...layers.map((l) => l.outSize)),
            maxRows: capacity,
          });
    const buffer = (length: number) => this.kernels.allocate(length);
    const outputs = (list: DenseLayer[]) => list.map((l) => buffer(capacity * l.outSize));
    const grads = (list: DenseLayer[]) => (training ? outputs(list) : []);
    this.inputWidth = width;
    this.interactions = interactionCount(model.shape, model.embedding.vocabSizes.length);
    this.cat = new Int32Array(capacity * model.embedding.vocabSizes.length);
    this.x = buffer(capacity * width);
    this.bottomOut = outputs(model.bottom);
    this.ctrOut = outputs(model.ctrHead);
    this.cvrOut = outputs(model.cvrHead);
    this.ctrLogitWithPosition = new Float32Array(capacity);
    this.click = new Uint8Array(capacity);
    this.purchase = new Uint8Array(capacity);
    this.clickTarget = new Float32Array(training ? capacity : 0);
    this.clickPurchaseTarget = new Float32Array(training ? capacity : 0);
    this.positionBucket = new Int32Array(capacity);
    this.dX = training ? buffer(capacity * width) : new Float32Array(0);
    this.dBottom = grads(model.bottom);
    this.dCtr = grads(model.ctrHead);
    this.dCvr = grads(model.cvrHead);
  }

  get ctrLogit(): Float32Array {
    return this.ctrOut[this.ctrOut.length - 1]!;
  }

  get cvrLogit(): Float32Array {
    return this.cvrOut[this.cvrOut.length - 1]!;
  }
}

/** Gradient buffers parallel to the model's parameters. */
export class Gradients {
  readonly bottom: DenseLayer[];
  readonly ctrHead: DenseLayer[];
  readonly cvrHead: DenseLayer[];
  readonly positionBias: Float32Array;
  readonly positionCross: Float32Array;
  /** Same order as denseParameters(model). */
  readonly dense: Float32Array[];
  /** Dense [rows, dim] like the table, but only touched rows are ever non-zero. */
  readonly embedding: Float32Array;
  /** Embedding rows with a gradient in the current batch, deduplicated. */
  readonly touchedRows: Int32Array;
  touchedCount = 0;
  /** Batch stamp per table row, to deduplicate touched rows without clearing a bitmap. */
  private readonly rowStamp: Int32Array;
  private stamp = 0;

  constructor(model: RankerModel, capacity: number) {
    const zeros = (layers: DenseLayer[]) =>
      layers.map((l) => ({ inSize: l.inSize, outSize: l.outSize, weight: new Float32Array(l.weight.length), bias: new Float32Array(l.bias.length) }));
    this.bottom = zeros(model.bottom);
    this.ctrHead = zeros(model.ctrHead);
    this.cvrHead = zeros(model.cvrHead);
    this.positionBias = new Float32Array(model.position.bias.length);
    this.positionCross = new Float32Array(model.position.cross.length);
    this.dense = [];
    for (const layer of [...this.bottom, ...this.ctrHead, ...this.cvrHead]) this.dense.push(layer.weight, layer.bias);
    this.dense.push(this.positionBias, this.positionCross);
    const tableRows = model.embedding.table.length / model.embedding.dim;
    this.embedding = new Float32Array(model.embedding.table.length);
    this.touchedRows = new Int32Array(Math.min(tableRows, capacity * model.embedding.vocabSizes.length));
    this.rowStamp = new Int32Array(tableRows);
  }

  /** Starts a batch: forgets the touched-row list (the optimizer has already zeroed those rows). */
  beginBatch(): void {
    this.touchedCount = 0;
    this.stamp++;
  }

  touch(row: number): void {
    if (this.rowStamp[row] !== this.stamp) {
      this.rowStamp[row] = this.stamp;
      this.touchedRows[this.touchedCount++] = row;
    }
  }
}

/**
 * Copies rows into the workspace and gathers their embeddings: row i of the batch is source row
 * order[start + i] (or start + i without an order).
 */
export function loadInputs(
  model: RankerModel,
  ws: Workspace,
  cat: Int32Array,
  num: Float32Array,
  order: Int32Array | null,
  start: number,
  count: number,
): void {
  const { dim, offsets, table } = model.embedding;
  const fields = offsets.length;
  const numericDim = model.numericDim;
  const width = ws.inputWidth;
  const embWidth = fields * dim;
  const pairs = ws.interactions;
  const x = ws.x;
  for (let i = 0; i < count; i++) {
    const src = order ? order[start + i]! : start + i;
    const xRow = i * width;
    for (let c = 0; c < fields; c++) {
      const v = cat[src * fields + c]!;
      ws.cat[i * fields + c] = v;
      const t = (offsets[c]! + v) * dim;
      const xc = xRow + c * dim;
      for (let k = 0; k < dim; k++) x[xc + k] = table[t + k]!;
    }
    if (pairs > 0) {
      // Pairs (a, b), a < b, in row-major order of the upper triangle (the ONNX export's order).
      let p = xRow + embWidth;
      for (let a = 0; a < fields; a++) {
        const ea = xRow + a * dim;
        for (let b = a + 1; b < fields; b++) {
          const eb = xRow + b * dim;
          let dot = 0;
          for (let k = 0; k < dim; k++) dot += x[ea + k]! * x[eb + k]!;
          x[p++] = dot;
        }
      }
    }
    const n0 = src * numericDim;
    const xn = xRow + embWidth + pairs;
    for (let k = 0; k < numericDim; k++) ws.x[xn + k] = num[n0 + k]!;
  }
  ws.rows = count;
}

/** Copies labels and position buckets of the same rows loadInputs loaded. */
export function loadLabels(
  model: RankerModel,
  ws: Workspace,
  set: TrainingSet,
  order: Int32Array | null,
  start: number,
  count: number,
): void {
  const maxPosition = model.position.maxPosition;
  for (let i = 0; i < count; i++) {
    const src = order ? order[start + i]! : start + i;
    ws.click[i] = set.click[src]!;
    ws.purchase[i] = set.purchase[src]!;
    if (set.targets) {
      ws.clickTarget[i] = set.targets.click[src]!;
      ws.clickPurchaseTarget[i] = set.targets.clickPurchase[src]!;
    }
    const p = set.position[src]!;
    ws.positionBucket[i] = (p < 1 ? 1 : p > maxPosition ? maxPosition : p) - 1;
  }
}

function runTower(kernels: Kernels, layers: DenseLayer[], input: Float32Array, outputs: Float32Array[], rows: number, reluLast: boolean): void {
  let x = input;
  for (let l = 0; l < layers.length; l++) {
    const layer = layers[l]!;
    const relu = reluLast || l < layers.length - 1;
    kernels.denseForward(x, layer.weight, layer.bias, outputs[l]!, rows, layer.inSize, layer.outSize, relu);
    x = outputs[l]!;
  }
}

/** Served forward pass: fills the bottom activations and the CTR and CVR logits. */
export function forward(model: RankerModel, ws: Workspace): void {
  const rows = ws.rows;
  runTower(ws.kernels, model.bottom, ws.x, ws.bottomOut, rows, true);
  const top = ws.bottomOut[ws.bottomOut.length - 1]!;
  runTower(ws.kernels, model.ctrHead, top, ws.ctrOut, rows, false);
  runTower(ws.kernels, model.cvrHead, top, ws.cvrOut, rows, false);
}

/** ctrLogitWithPosition = served CTR logit + the position tower's logit for each loaded row. */
export function addPositionBias(model: RankerModel, ws: Workspace): void {
  const { bias, cross, crossField } = model.position;
  const fields = model.embedding.vocabSizes.length;
  const crossVocab = crossField === null ? 0 : model.embedding.vocabSizes[crossField]!;
  const logit = ws.ctrLogit;
  for (let r = 0; r < ws.rows; r++) {
    const bucket = ws.positionBucket[r]!;
    let z = logit[r]! + bias[bucket]!;
    if (crossField !== null) z += cross[bucket * crossVocab + ws.cat[r * fields + crossField]!]!;
    ws.ctrLogitWithPosition[r] = z;
  }
}

/**
 * The training-time forward pass (position tower at each row's logged position) over every row of
 * `set`, a workspace of rows at a time: visit(start, count) runs while rows start..start+count-1
 * are loaded, their logits in ws.ctrLogitWithPosition, ws.ctrLogit and ws.cvrLogit.
 */
export function forEachLoggedChunk(model: RankerModel, ws: Workspace, set: TrainingSet, visit: (start: number, count: number) => void): void {
  const rows = set.click.length;
  for (let start = 0; start < rows; start += ws.capacity) {
    const count = Math.min(ws.capacity, rows - start);
    loadInputs(model, ws, set.cat, set.num, null, start, count);
    loadLabels(model, ws, set, null, start, count);
    forward(model, ws);
    addPositionBias(model, ws);
    visit(start, count);
  }
}

/** Backpropagates one tower; dOut[last] must hold the gradient w.r.t. the tower's final output. */
function backwardTower(
  kernels: Kernels,
  layers: DenseLayer[],
  grads: DenseLayer[],
  input: Float32Array,
  outputs: Float32Array[],
  dOut: Float32Array[],
  dInput: Float32Array,
  inputCols: number,
  accumulateInput: boolean,
  rows: number,
  reluLast: boolean,
): void {
  for (let l = layers.length - 1; l >= 0; l--) {
    const layer = layers[l]!;
    const out = outputs[l]!;
    const dz = dOut[l]!;
    const n = rows * layer.outSize;
    // Through the ReLU: no gradient where the unit was off.
    if (reluLast || l < layers.length - 1) for (let i = 0; i < n; i++) if (out[i]! <= 0) dz[i] = 0;
    const x = l > 0 ? outputs[l - 1]! : input;
    kernels.denseBackwardParams(x, dz, grads[l]!.weight, grads[l]!.bias, rows, layer.inSize, layer.outSize);
    if (l > 0) kernels.denseBackwardInput(dz, layer.weight, dOut[l - 1]!, rows, layer.inSize, layer.outSize, layer.inSize, false);
    else kernels.denseBackwardInput(dz, layer.weight, dInput, rows, layer.inSize, layer.outSize, inputCols, accumulateInput);
  }
}

/**
 * One batch of the training objective: forward with the position tower, the ESMM loss, and the
 * gradients of mean_i[ loss_i + l2Embedding/2 * sum_c |e_(c, i)|^2 ] w.r.t. every parameter.
 * Rows order[start .. start+count) of `set` are used. Returns the batch's summed ESMM loss
 * (without the L2 term). Embedding gradients are added into grads.embedding, which must be zero on
 * entry (Adam.update zeroes the rows it consumes), for grads.touchedRows only.
 */
export function lossAndGradients(
  model: RankerModel,
  ws: Workspace,
  grads: Gradients,
  set: TrainingSet,
  order: Int32Array | null,
  start: number,
  count: number,
  l2Embedding: number,
): number {
  loadInputs(model, ws, set.cat, set.num, order, start, count);
  loadLabels(model, ws, set, order, start, count);
  forward(model, ws);
  addPositionBias(model, ws);
  const rows = ws.rows;
  const dCtrLogit = ws.dCtr[ws.dCtr.length - 1]!;
  const dCvrLogit = ws.dCvr[ws.dCvr.length - 1]!;
  const loss = set.targets
    ? softEsmmLoss(ws.ctrLogitWithPosition, ws.cvrLogit, ws.clickTarget, ws.clickPurchaseTarget, rows, dCtrLogit, dCvrLogit)
    : esmmLoss(ws.ctrLogitWithPosition, ws.cvrLogit, ws.click, ws.purchase, rows, dCtrLogit, dCvrLogit);

  // Position tower: bucket 0 (position 1) is the reference and never gets a gradient.
  const { crossField } = model.position;
  const fields = model.embedding.vocabSizes.length;
  const crossVocab = crossField === null ? 0 : model.embedding.vocabSizes[crossField]!;
  grads.positionBias.fill(0);
  grads.positionCross.fill(0);
  for (let r = 0; r < rows; r++) {
    const bucket = ws.positionBucket[r]!;
    if (bucket === 0) continue;
    const g = dCtrLogit[r]!;
    grads.positionBias[bucket] = grads.positionBias[bucket]! + g;
    if (crossField !== null) {
      const i = bucket * crossVocab + ws.cat[r * fields + crossField]!;
      grads.positionCross[i] = grads.positionCross[i]! + g;
    }
  }

  // Heads, then the shared bottom with the two heads' input gradients summed.
  const top = ws.bottomOut[ws.bottomOut.length - 1]!;
  const dTop = ws.dBottom[ws.dBottom.length - 1]!;
  const topWidth = model.bottom[model.bottom.length - 1]!.outSize;
  backwardTower(ws.kernels, model.ctrHead, grads.ctrHead, top, ws.ctrOut, ws.dCtr, dTop, topWidth, false, rows, false);
  backwardTower(ws.kernels, model.cvrHead, grads.cvrHead, top, ws.cvrOut, ws.dCvr, dTop, topWidth, true, rows, false);
  const { dim, offsets, table } = model.embedding;
  const embWidth = fields * dim;
  const pairs = ws.interactions;
  const width = ws.inputWidth;
  // Only the embedding and interaction columns of the input need a gradient.
  backwardTower(ws.kernels, model.bottom, grads.bottom, ws.x, ws.bottomOut, ws.dBottom, ws.dX, embWidth + pairs, false, rows, true);

  // d(e_a . e_b)/d e_a = e_b: fold the interaction gradients into the embedding columns.
  if (pairs > 0) {
    const x = ws.x;
    const dX = ws.dX;
    for (let r = 0; r < rows; r++) {
      const row = r * width;
      let p = row + embWidth;
      for (let a = 0; a < fields; a++) {
        const ea = row + a * dim;
        for (let b = a + 1; b < fields; b++) {
          const g = dX[p++]!;
          if (g === 0) continue;
          const eb = row + b * dim;
          for (let k = 0; k < dim; k++) {
            dX[ea + k] = dX[ea + k]! + g * x[eb + k]!;
            dX[eb + k] = dX[eb + k]! + g * x[ea + k]!;
          }
        }
      }
    }
  }

  // Scatter the input gradient into the embedding rows, with the L2 term per occurrence.
  const l2 = l2Embedding / rows;
  const g = grads.embedding;
  grads.beginBatch();
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < fields; c++) {
      const row = offsets[c]! + ws.cat[r * fields + c]!;
      grads.touch(row);
      const t = row * dim;
      const d = r * width + c * dim;
      for (let k = 0; k < dim; k++) g[t + k] = g[t + k]! + ws.dX[d + k]! + l2 * table[t + k]!;
    }
  }
  return loss;
}
