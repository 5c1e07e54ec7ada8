// Reads what the validator needs from an ONNX file without running it: the graph's inputs and
// outputs (name, element type, shape with symbolic dimensions), the opsets, the operators used and
// the attributes of the nodes the static checks look at. Decoded with onnx-proto (ONNX 1.10 schema:
// newer fields, e.g. of opset 21+ ops, are skipped by protobuf, which is fine for a signature).
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

type Long = { toNumber(): number };
type IntLike = number | Long | null | undefined;

const toNumber = (v: IntLike): number | undefined => (v === null || v === undefined ? undefined : typeof v === 'number' ? v : v.toNumber());

/** ONNX element types by their TensorProto.DataType number, named like ORT's tensor types. */
const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** A dimension: a number when fixed, a string for a named symbolic one, null when unknown. */
export type Dim = number | string | null;

export interface TensorInfo {
  name: string;
  /** 'float32', 'int64', ... or e.g. 'sequence' / 'map' for non-tensor values */
  dtype: string;
  /** null when the model does not declare a shape */
  shape: Dim[] | null;
}

export interface NodeInfo {
  opType: string;
  domain: string;
  name: string;
  outputs: string[];
  /** int, float and string attributes only (enough for the static checks) */
  attributes: Record<string, number | string>;
}

export interface OnnxSignature {
  irVersion: number | undefined;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  /** graph inputs that must be fed (those without an initializer of the same name) */
  inputs: TensorInfo[];
  /** graph inputs that have an initializer, so feeding them is optional (old exporters list weights as inputs) */
  optionalInputs: string[];
  outputs: TensorInfo[];
  /** distinct operators as domain:opType (domain 'ai.onnx' for the default domain) */
  operators: string[];
  nodes: NodeInfo[];
  /** initializers whose data lives in a separate file (the worker needs one self-contained file) */
  externalInitializers: string[];
}

export class OnnxReadError extends Error {}

function describeType(type: Parameters<typeof onnx.TypeProto.create>[0] | null | undefined): Pick<TensorInfo, 'dtype' | 'shape'> {
  if (!type) return { dtype: 'unknown', shape: null };
  if (type.tensorType) {
    const elem = type.tensorType.elemType ?? 0;
    const dtype = ELEMENT_TYPES[elem] ?? `type ${elem}`;
    const dims = type.tensorType.shape?.dim;
    const shape = type.tensorType.shape
      ? (dims ?? []).map((d): Dim => {
          if (d.dimParam) return d.dimParam;
          // Decoded messages own the fields that were set; unset ones read the prototype's defaults.
          const set = Object.prototype.hasOwnProperty.call(d, 'dimValue');
          return set ? (toNumber(d.dimValue as IntLike) ?? null) : null;
        })
      : null;
    return { dtype, shape };
  }
  if (type.sequenceType) return { dtype: 'sequence', shape: null };
  if (type.mapType) return { dtype: 'map', shape: null };
  return { dtype: 'unknown', shape: null };
}

export function readOnnxSignature(bytes: Uint8Array): OnnxSignature {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxReadError(`not an ONNX model (protobuf decoding failed: ${error instanceof Error ? error.message : String(error)})`);
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0 || (graph.output ?? []).length === 0) {
    throw new OnnxReadError('not an ONNX model (no graph with nodes and outputs)');
  }
  const initializerNames = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs: TensorInfo[] = [];
  const optionalInputs: string[] = [];
  for (const input of graph.input ?? []) {
    const name = input.name ?? '';
    if (initializerNames.has(name)) optionalInputs.push(name);
    else inputs.push({ name, ...describeType(input.type) });
  }
  const nodes: NodeInfo[] = (graph.node ?? []).map((n) => {
    const attributes: Record<string, number | string> = {};
    for (const a of n.attribute ?? []) {
      const T = onnx.AttributeProto.AttributeType;
      if (a.type === T.INT) attributes[a.name ?? ''] = toNumber(a.i as IntLike) ?? 0;
      else if (a.type === T.FLOAT) attributes[a.name ?? ''] = a.f ?? 0;
      else if (a.type === T.STRING) attributes[a.name ?? ''] = new TextDecoder().decode(a.s ?? new Uint8Array());
    }
    return { opType: n.opType ?? '', domain: n.domain ?? '', name: n.name ?? '', outputs: n.output ?? [], attributes };
  });
  const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
  return {
    irVersion: toNumber(model.irVersion as IntLike),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: toNumber(o.version as IntLike) ?? 0 })),
    inputs,
    optionalInputs,
    outputs: (graph.output ?? []).map((o) => ({ name: o.name ?? '', ...describeType(o.type) })),
    operators: [...new Set(nodes.map((n) => `${n.domain || 'ai.onnx'}:${n.opType}`))].sort(),
    nodes,
    externalInitializers: (graph.initializer ?? []).filter((t) => t.dataLocation === EXTERNAL).map((t) => t.name ?? ''),
  };
}

/** [N, 10], [batch, ?], float32 [?] ... for messages. */
export function formatShape(shape: Dim[] | null): string {
  if (shape === null) return '(shape not declared)';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
