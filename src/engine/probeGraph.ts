// A one-node ONNX model (y = Relu(x), x of shape [4]) encoded by hand, so a WebGPU probe can create a
// session in milliseconds without touching the user's (possibly 2 GB) model, and without shipping a
// binary file. Only the few protobuf fields ONNX Runtime needs are written.

/** ONNX TensorProto.DataType values. */
export const ONNX_FLOAT = 1;
export const ONNX_FLOAT16 = 10;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Field `field` with wire type 0 (varint). */
function intField(field: number, value: number): number[] {
  return [...varint(field << 3), ...varint(value)];
}

/** Field `field` with wire type 2 (bytes, string or embedded message). */
function bytesField(field: number, bytes: number[] | string): number[] {
  const data = typeof bytes === 'string' ? [...Buffer.from(bytes, 'utf8')] : bytes;
  return [...varint((field << 3) | 2), ...varint(data.length), ...data];
}

function valueInfo(name: string, elemType: number, dim: number): number[] {
  const shape = bytesField(1, intField(1, dim)); // TensorShapeProto.dim { dim_value }
  const tensorType = [...intField(1, elemType), ...bytesField(2, shape)]; // elem_type, shape
  const type = bytesField(1, tensorType); // TypeProto.tensor_type
  return [...bytesField(1, name), ...bytesField(2, type)]; // ValueInfoProto name, type
}

/** Serialized ModelProto of `y = Relu(x)` with x, y of the given element type and shape [4]. */
export function reluModel(elemType: number = ONNX_FLOAT): Uint8Array {
  const node = [...bytesField(1, 'x'), ...bytesField(2, 'y'), ...bytesField(4, 'Relu')];
  const graph = [
    ...bytesField(1, node),
    ...bytesField(2, 'probe'),
    ...bytesField(11, valueInfo('x', elemType, 4)),
    ...bytesField(12, valueInfo('y', elemType, 4)),
  ];
  const opset = [...bytesField(1, ''), ...intField(2, 17)];
  const model = [...intField(1, 8), ...bytesField(7, graph), ...bytesField(8, opset)];
  return Uint8Array.from(model);
}
