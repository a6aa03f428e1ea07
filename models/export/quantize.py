"""Weight-only quantisers for `--dtype int4 | int8` (numpy; no onnxruntime tooling needed at export time).

int4: ONNX Runtime's contrib op `com.microsoft.MatMulNBits` (CPU and WebGPU providers). The weight W [N, K] (the
      nn.Linear layout: out x in) is cut along K into blocks of BLOCK_SIZE; each block gets one float scale
      (symmetric: scale = max|w| / 7, code = round(w / scale) + 8 in [1, 15], and the op's default zero point 8
      when no zero_points input is given). Codes are packed two per byte, low nibble first:
        B [N, k_blocks, BLOCK_SIZE / 2] uint8, scales [N * k_blocks] float32; attributes K, N, bits=4, block_size.
      Y = A @ dequant(B)^T, dequant = (code - 8) * scale.
int8: dynamic quantisation: W^T [K, N] as int8 with one scale per output column (symmetric, zero point 0); the
      activation is quantised per tensor at run time (DynamicQuantizeLinear -> uint8, scale, zero point), then
      MatMulInteger (u8 x s8 -> int32), Cast, and one Mul by activation scale x column scales. ORT's optimiser fuses
      the pattern into DynamicQuantizeMatMul. Weight memory stays int8 at run time (nothing is dequantised).

Embeddings, the LM head and the norms are not quantised: the head's top-k ranking is what the sampler reads, and
the embedding is a Gather (no matmul to save); they are stored as float16.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper

BLOCK_SIZE = 32
INT4_ZERO = 8


def quantize_int4(w: np.ndarray, block_size: int = BLOCK_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """W [N, K] float -> (B [N, k_blocks, block_size // 2] uint8, scales [N * k_blocks] float32)."""
    n, k = w.shape
    k_blocks = -(-k // block_size)
    padded = np.zeros((n, k_blocks * block_size), np.float32)
    padded[:, :k] = w
    blocks = padded.reshape(n, k_blocks, block_size)
    absmax = np.abs(blocks).max(axis=-1)
    scales = np.where(absmax > 0, absmax / 7.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(blocks / scales[..., None]), -7, 7).astype(np.int16) + INT4_ZERO
    codes = codes.astype(np.uint8)
    packed = (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), np.ascontiguousarray(scales.reshape(-1))


def dequantize_int4(packed: np.ndarray, scales: np.ndarray, k: int) -> np.ndarray:
    """Inverse of quantize_int4 (the op's semantics), for tests."""
    n, k_blocks, half = packed.shape
    codes = np.empty((n, k_blocks, half * 2), np.float32)
    codes[..., 0::2] = packed & 0x0F
    codes[..., 1::2] = packed >> 4
    w = (codes - INT4_ZERO) * scales.reshape(n, k_blocks, 1)
    return w.reshape(n, -1)[:, :k]


def quantize_int8(w: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """W [N, K] float -> (W^T [K, N] int8, column scales [N] float32); symmetric, zero point 0."""
    absmax = np.abs(w).max(axis=1)
    scales = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scales[:, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q.T), scales


def dequantize_int8(qt: np.ndarray, scales: np.ndarray) -> np.ndarray:
    return (qt.astype(np.float32) * scales[None, :]).T


def stored_names(name: str, dtype: str) -> List[str]:
    return [name + "__q4", name + "__scales"] if dtype == "int4" else [name + "__q8", name + "__scale"]


def matmul_nodes(dtype: str, x: str, weight: str, out: str, k: int, n: int, tag: str) -> List[onnx.NodeProto]:
    """Nodes computing out = x @ W^T for a quantised weight (see the module docstring)."""
    if dtype == "int4":
        q, s = stored_names(weight, dtype)
        return [
            helper.make_node(
                "MatMulNBits", [x, q, s], [out], name=f"mmnb_{tag}", domain="com.microsoft",
                K=k, N=n, bits=4, block_size=BLOCK_SIZE,
            )
        ]  # fmt: skip
    q, s = stored_names(weight, dtype)
    xq, xs, xz, yi, yf, sc = (f"{tag}__{p}" for p in ("xq", "xs", "xz", "yi", "yf", "sc"))
    return [
        helper.make_node("DynamicQuantizeLinear", [x], [xq, xs, xz], name=f"dql_{tag}"),
        helper.make_node("MatMulInteger", [xq, q, xz], [yi], name=f"mmi_{tag}"),
        helper.make_node("Cast", [yi], [yf], to=TensorProto.FLOAT, name=f"cast_{tag}"),
        helper.make_node("Mul", [xs, s], [sc], name=f"scale_{tag}"),
        helper.make_node("Mul", [yf, sc], [out], name=f"mul_{tag}"),
    ]

