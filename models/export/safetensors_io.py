"""Minimal safetensors reader/writer (no `safetensors` package needed).

File layout: an 8-byte little-endian unsigned header length N, then N bytes of JSON
`{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`,
then the raw little-endian tensor bytes; offsets are relative to the end of the header.

Reading is lazy: only the header is parsed up front, and each tensor is read when asked for.
BF16 has no numpy dtype: it is read as uint16 and widened to float32 by a 16-bit shift (exact).
A sharded checkpoint is described by `model.safetensors.index.json` (`weight_map`: name -> file).
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

# safetensors dtype -> (numpy storage dtype, bytes per element)
_DTYPES = {
    "F64": (np.float64, 8),
    "F32": (np.float32, 4),
    "F16": (np.float16, 2),
    "BF16": (np.uint16, 2),  # widened on read
    "I64": (np.int64, 8),
    "I32": (np.int32, 4),
    "I16": (np.int16, 2),
    "I8": (np.int8, 1),
    "U8": (np.uint8, 1),
    "BOOL": (np.bool_, 1),
}

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


class SafetensorsError(Exception):
    """`kind` (for the VS Code command's messages): 'shard' (missing / truncated file), 'pickle', 'weights'."""

    def __init__(self, message: str, kind: str = "weights"):
        super().__init__(message)
        self.kind = kind


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """uint16 bit patterns of bfloat16 -> float32 (exact)."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (round to nearest even), as uint16."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype(np.uint16)


class SafetensorsFile:
    """One .safetensors file, read lazily."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as f:
                head = f.read(8)
                if len(head) != 8:
                    raise SafetensorsError(f"{path}: truncated (no header length)")
                (n,) = struct.unpack("<Q", head)
                if n > 100_000_000:
                    raise SafetensorsError(f"{path}: header length {n} is implausible")
                header = json.loads(f.read(n).decode("utf-8"))
        except OSError as e:
            raise SafetensorsError(f"{path}: cannot read ({e})") from e
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: header is not JSON ({e})") from e
        if not isinstance(header, dict):
            raise SafetensorsError(f"{path}: header is not a JSON object")
        self.metadata = header.pop("__metadata__", None) or {}
        self.header: Dict[str, dict] = header
        self.data_start = 8 + n
        # A truncated shard (an interrupted download) is found here, before a long export starts.
        try:
            end = max((int(h["data_offsets"][1]) for h in header.values()), default=0)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise SafetensorsError(f"{path}: header has a tensor without valid data_offsets ({e})") from e
        size = os.path.getsize(path)
        if self.data_start + end > size:
            raise SafetensorsError(
                f"{path}: truncated shard: the header needs {self.data_start + end} bytes, the file has {size} "
                "(an interrupted download? download it again)",
                "shard",
            )

    def keys(self) -> List[str]:
        return list(self.header.keys())

    def info(self, name: str) -> Tuple[str, Tuple[int, ...]]:
        h = self.header[name]
        return h["dtype"], tuple(h["shape"])

    def raw(self, name: str) -> np.ndarray:
        """The tensor in its storage dtype (BF16 as uint16), read from the file into a fresh array.

        Plain reads, not a memmap: a mapping would keep every page of a 4 GB shard resident (and counted in
        the process's memory) until the file is closed; a converter streaming 15 GB does not need that."""
        h = self.header[name]
        dtype = h["dtype"]
        if dtype not in _DTYPES:
            raise SafetensorsError(f"{self.path}: tensor {name} has unsupported dtype {dtype}")
        np_dtype, size = _DTYPES[dtype]
        begin, end = h["data_offsets"]
        shape = tuple(h["shape"])
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * size:
            raise SafetensorsError(f"{self.path}: tensor {name} has {end - begin} bytes for shape {shape} {dtype}")
        with open(self.path, "rb") as f:
            f.seek(self.data_start + begin)
            arr = np.fromfile(f, dtype=np.dtype(np_dtype).newbyteorder("<"), count=count)
        if arr.size != count:
            raise SafetensorsError(f"{self.path}: truncated data for tensor {name}")
        return arr.reshape(shape)

    def get(self, name: str, dtype=np.float32) -> np.ndarray:
        """The tensor converted to `dtype` (float32 or float16 for weights); always a fresh array."""
        st_dtype = self.header[name]["dtype"]
        raw = self.raw(name)
        if st_dtype == "BF16":
            arr = bf16_to_f32(raw)
        else:
            arr = raw  # fresh from the file
        return arr if arr.dtype == dtype else arr.astype(dtype)


class Checkpoint:
    """All tensors of a checkpoint folder: model.safetensors or shards listed in the index file."""

    def __init__(self, directory: str):
        self.directory = directory
        index = os.path.join(directory, INDEX_FILE)
        single = os.path.join(directory, SINGLE_FILE)
        self.files: Dict[str, SafetensorsFile] = {}
        self.where: Dict[str, str] = {}
        if os.path.isfile(index):
            with open(index, "r", encoding="utf-8") as f:
                weight_map = json.load(f).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise SafetensorsError(f"{index}: no \"weight_map\"")
            for name, shard in weight_map.items():
                path = os.path.join(directory, shard)
                if shard not in self.files:
                    if not os.path.isfile(path):
                        raise SafetensorsError(f"{index} lists shard {shard}, which is missing from {directory}", "shard")
                    self.files[shard] = SafetensorsFile(path)
                if name not in self.files[shard].header:
                    raise SafetensorsError(f"{path}: tensor {name} listed in {INDEX_FILE} is not in the shard")
                self.where[name] = shard
        elif os.path.isfile(single):
            self.files[SINGLE_FILE] = SafetensorsFile(single)
            for name in self.files[SINGLE_FILE].keys():
                self.where[name] = SINGLE_FILE
        else:
            others = sorted(p for p in os.listdir(directory) if p.endswith((".bin", ".pt", ".pth", ".ckpt", ".gguf")))
            pickles = [p for p in others if not p.endswith(".gguf")]
            if pickles:
                # Never unpickled: loading a pickle runs whatever code the file carries.
                raise SafetensorsError(
                    f"{directory}: missing {SINGLE_FILE} or {INDEX_FILE}; found only {', '.join(others)}: {pickles[0]} is a PyTorch pickle, and loading a pickle "
                    "can run arbitrary code, so it is never opened. Download the model's safetensors files instead "
                    "(most Hugging Face repos have them), or convert on a machine you trust with "
                    "`python -c \"import torch, safetensors.torch as s; "
                    "s.save_file(torch.load('pytorch_model.bin', weights_only=True), 'model.safetensors')\"`",
                    "pickle",
                )
            hint = f" (found {', '.join(others)}: only safetensors is supported)" if others else ""
            raise SafetensorsError(f"{directory}: missing {SINGLE_FILE} or {INDEX_FILE}{hint}")

    def __contains__(self, name: str) -> bool:
        return name in self.where

    def keys(self) -> List[str]:
        return list(self.where.keys())

    def info(self, name: str) -> Tuple[str, Tuple[int, ...]]:
        return self.files[self.where[name]].info(name)

    def get(self, name: str, dtype=np.float32) -> np.ndarray:
        return self.files[self.where[name]].get(name, dtype)

    def dtypes(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for name in self.where:
            dt, _ = self.info(name)
            counts[dt] = counts.get(dt, 0) + 1
        return counts


def _to_storage(name: str, arr, dtype: str) -> Tuple[bytes, List[int]]:
    if hasattr(arr, "detach"):  # torch tensor
        arr = arr.detach().cpu().float().numpy() if dtype == "BF16" else arr.detach().cpu().numpy()
    arr = np.asarray(arr)
    if dtype == "BF16":
        data = f32_to_bf16_bits(arr.astype(np.float32))
    else:
        if dtype not in _DTYPES:
            raise SafetensorsError(f"cannot write {name}: unsupported dtype {dtype}")
        data = arr.astype(_DTYPES[dtype][0])
    return np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes(), list(arr.shape)


def save_file(tensors: Dict[str, object], path: str, dtype: str = "F32", metadata: Optional[dict] = None) -> None:
    """Writes `tensors` (numpy arrays or torch tensors) in safetensors format, all stored as `dtype`."""
    header: Dict[str, dict] = {}
    blobs: List[bytes] = []
    offset = 0
    for name in sorted(tensors):
        data, shape = _to_storage(name, tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)  # keep tensor data 8-byte aligned like the reference writer
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def save_sharded(
    tensors: Dict[str, object], directory: str, shards: int, dtype: str = "F32"
) -> List[str]:
    """Splits `tensors` over `shards` files named like Hugging Face's and writes the index file."""
    names = sorted(tensors)
    per = max(1, -(-len(names) // shards))
    groups = [names[i : i + per] for i in range(0, len(names), per)]
    files: List[str] = []
    weight_map: Dict[str, str] = {}
    total = 0
    for i, group in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        save_file({n: tensors[n] for n in group}, os.path.join(directory, fname), dtype)
        files.append(fname)
        for n in group:
            weight_map[n] = fname
            total += int(np.prod(np.asarray(tensors[n].shape))) * _DTYPES[dtype][1]
    with open(os.path.join(directory, INDEX_FILE), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    return files


def iter_names(checkpoint: Checkpoint, prefix: str) -> Iterable[str]:
    return (n for n in checkpoint.keys() if n.startswith(prefix))
