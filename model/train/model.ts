// Creating, copying and enumerating the ranker's parameters.
import { Rng } from './random.ts';
import type { DenseLayer, ModelShape, RankerModel } from './types.ts';

/** Embedding init: small, so the first layers start near linear in the numeric features. */
const EMBEDDING_INIT_STD = 0.05;

function denseLayer(rng: Rng, inSize: number, outSize: number, std: number): DenseLayer {
  const weight = new Float32Array(inSize * outSize);
  for (let i = 0; i < weight.length; i++) weight[i] = rng.normal() * std;
  return { inSize, outSize, weight, bias: new Float32Array(outSize) };
}

/** He init for layers followed by ReLU, LeCun (1/fan-in) for the layer that produces a logit. */
function tower(rng: Rng, inSize: number, hidden: number[], finalSize: number | null): DenseLayer[] {
  const layers: DenseLayer[] = [];
  let width = inSize;
  for (const h of hidden) {
    layers.push(denseLayer(rng, width, h, Math.sqrt(2 / width)));
    width = h;
  }
  if (finalSize !== null) layers.push(denseLayer(rng, width, finalSize, Math.sqrt(1 / width)));
  return layers;
}

/** Pairwise dot products of field embeddings in the bottom's input (0 without interactions). */
export function interactionCount(shape: ModelShape, fields: number): number {
  return shape.interactions === 'dot' ? (fields * (fields - 1)) / 2 : 0;
}

/** The bottom's input row: [C*dim embeddings][pairwise dots][D numeric]. */
export function inputWidth(model: RankerModel): number {
  const fields = model.embedding.vocabSizes.length;
  return fields * model.embedding.dim + interactionCount(model.shape, fields) + model.numericDim;
}

export function createModel(shape: ModelShape, vocabSizes: number[], numericDim: number, seed: number): RankerModel {
  if (shape.hidden.length === 0) throw new Error('the shared bottom needs at least one hidden layer');
  if (shape.maxPosition < 1) throw new Error('maxPosition must be at least 1');
  const crossField = shape.positionCrossField;
  if (crossField !== null && (crossField < 0 || crossField >= vocabSizes.length)) {
    throw new Error(`positionCrossField ${crossField} is not a categorical field index`);
  }
  const rng = new Rng(seed);
  const dim = shape.embeddingDim;
  const offsets: number[] = [];
  let rows = 0;
  for (const v of vocabSizes) {
    offsets.push(rows);
    rows += v;
  }
  const table = new Float32Array(rows * dim);
  for (let i = 0; i < table.length; i++) table[i] = rng.normal() * EMBEDDING_INIT_STD;
  const width = vocabSizes.length * dim + interactionCount(shape, vocabSizes.length) + numericDim;
  const bottom = tower(rng, width, shape.hidden, null);
  const top = shape.hidden[shape.hidden.length - 1]!;
  return {
    shape: { ...shape, hidden: [...shape.hidden], headHidden: [...shape.headHidden] },
    numericDim,
    embedding: { dim, vocabSizes: [...vocabSizes], offsets, table },
    bottom,
    ctrHead: tower(rng, top, shape.headHidden, 1),
    cvrHead: tower(rng, top, shape.headHidden, 1),
    position: {
      maxPosition: shape.maxPosition,
      bias: new Float32Array(shape.maxPosition),
      crossField,
      cross: new Float32Array(crossField === null ? 0 : shape.maxPosition * vocabSizes[crossField]!),
    },
  };
}

/**
 * Every parameter array except the embedding table (which the optimizer updates row by row), in a
 * fixed order shared by the model, its gradients and the optimizer state.
 */
export function denseParameters(model: RankerModel): Float32Array[] {
  const out: Float32Array[] = [];
  for (const layer of [...model.bottom, ...model.ctrHead, ...model.cvrHead]) out.push(layer.weight, layer.bias);
  out.push(model.position.bias, model.position.cross);
  return out;
}

/** All parameter arrays, the embedding table first. */
export function allParameters(model: RankerModel): Float32Array[] {
  return [model.embedding.table, ...denseParameters(model)];
}

function cloneLayers(layers: DenseLayer[]): DenseLayer[] {
  return layers.map((l) => ({ inSize: l.inSize, outSize: l.outSize, weight: l.weight.slice(), bias: l.bias.slice() }));
}

export function cloneModel(model: RankerModel): RankerModel {
  return {
    shape: { ...model.shape, hidden: [...model.shape.hidden], headHidden: [...model.shape.headHidden] },
    numericDim: model.numericDim,
    embedding: { ...model.embedding, vocabSizes: [...model.embedding.vocabSizes], offsets: [...model.embedding.offsets], table: model.embedding.table.slice() },
    bottom: cloneLayers(model.bottom),
    ctrHead: cloneLayers(model.ctrHead),
    cvrHead: cloneLayers(model.cvrHead),
    position: { ...model.position, bias: model.position.bias.slice(), cross: model.position.cross.slice() },
  };
}

/** Copies parameter values between two models of the same shape (no allocation). */
export function copyParameters(from: RankerModel, to: RankerModel): void {
  const src = allParameters(from);
  const dst = allParameters(to);
  src.forEach((values, i) => dst[i]!.set(values));
}
