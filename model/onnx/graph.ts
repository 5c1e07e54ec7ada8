// A small builder over onnx-proto's generated protobuf classes. onnx-proto gives the message types
// and the encoder; what it does not give is a terse way to declare initializers and nodes, which
// every exporter here (the trainer's, the tests' own tree and quantize_dynamic-style models) needs.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type TensorDType = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8';

const DATA_TYPE: Record<TensorDType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
};

export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/**
 * A node attribute. Plain numbers and number arrays become INT(S) when every value is an integer,
 * else FLOAT(S); the object forms say the type explicitly (e.g. a tree's thresholds that happen to
 * be whole numbers are still FLOATS, an empty list can be INTS). `tensor` is a TENSOR attribute
 * (e.g. ai.onnx.ml v3's `nodes_values_as_tensor`; ONNX allows doubles there, but onnxruntime 1.30
 * rejects double tree attributes on a float32 input - checked here).
 */
export type AttributeValue =
  | number
  | string
  | number[]
  | string[]
  | { float: number }
  | { floats: number[] }
  | { ints: number[] }
  | { tensor: TypedData; dims: number[] };

export interface ValueInfo {
  name: string;
  dtype: TensorDType;
  /** -1 or a string for a symbolic (batch) dimension */
  shape: Array<number | string>;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

function rawBytes(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

function dtypeOf(data: TypedData): TensorDType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

function valueInfo(v: ValueInfo): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[v.dtype],
        shape: {
          dim: v.shape.map((d) => (typeof d === 'string' || d < 0 ? { dimParam: typeof d === 'string' ? d : 'N' } : { dimValue: d })),
        },
      },
    },
  });
}

function tensorProto(name: string, data: TypedData, dims: number[]): InstanceType<typeof onnx.TensorProto> {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== data.length) throw new Error(`tensor ${name}: ${data.length} values do not fill dims [${dims.join(', ')}]`);
  return onnx.TensorProto.create({ name, dims, dataType: DATA_TYPE[dtypeOf(data)], rawData: rawBytes(data) });
}

function attribute(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? onnx.AttributeProto.create({ name, type: T.INT, i: value })
      : onnx.AttributeProto.create({ name, type: T.FLOAT, f: value });
  }
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value) });
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return onnx.AttributeProto.create({
        name,
        type: T.STRINGS,
        strings: (value as string[]).map((s) => new TextEncoder().encode(s)),
      });
    }
    const nums = value as number[];
    return nums.every((n) => Number.isInteger(n))
      ? onnx.AttributeProto.create({ name, type: T.INTS, ints: nums })
      : onnx.AttributeProto.create({ name, type: T.FLOATS, floats: nums });
  }
  if ('float' in value) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value.float });
  if ('ints' in value) return onnx.AttributeProto.create({ name, type: T.INTS, ints: value.ints });
  if ('tensor' in value) return onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorProto(name, value.tensor, value.dims) });
  return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: value.floats });
}

/** Collects initializers and nodes, then encodes a ModelProto. */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(private readonly graphName: string) {}

  /** A fresh, unique tensor name with a readable prefix. */
  fresh(prefix: string): string {
    let name = `${prefix}_${this.counter++}`;
    while (this.names.has(name)) name = `${prefix}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  constant(name: string, data: TypedData, dims: number[]): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== data.length) {
      throw new Error(`initializer ${name}: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    }
    this.names.add(name);
    this.initializers.push(tensorProto(name, data, dims));
    return name;
  }

  node(
    opType: string,
    inputs: string[],
    outputs: string[] | number = 1,
    attributes: Record<string, AttributeValue> = {},
    domain = '',
  ): string[] {
    const outs =
      typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : outputs;
    for (const o of outs) this.names.add(o);
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain,
        name: this.fresh(`n_${opType}`),
        input: inputs,
        output: outs,
        attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outs;
  }

  /** Single-output convenience. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, domain = ''): string {
    return this.node(opType, inputs, 1, attributes, domain)[0]!;
  }

  encode(
    inputs: ValueInfo[],
    outputs: ValueInfo[],
    opsets: OpsetImport[] = [{ domain: '', version: 17 }],
    metadata: Record<string, string> = {},
  ): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'edge-ranker',
      producerVersion: '0.1.0',
      opsetImport: opsets,
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: inputs.map(valueInfo),
        output: outputs.map(valueInfo),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
