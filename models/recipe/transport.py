"""Moving data to a GPU machine and weights back, within its limits (64 MiB travels there, 8 files of 16 MiB back).

  pack    build/data/{train,val}.npz -> one xz-compressed tar (the corpus pack), rebuilt reproducibly, not committed
  pack-text  an annotated corpus (files.jsonl + spans.jsonl from spans.mjs) -> an xz tar of text and compact
          annotations (the JS/TS half of the GPU corpus; text compresses ~3x better than token ids, and the GPU
          machine tokenises with the same tokenizer.json)
  read-text  the inverse, streamed: records and annotations with code-point offsets
  load    stream a split out of the pack (no unpacking to disk)
  chunk   a state_dict -> bf16 chunks of at most --max-mib each plus an index (weights-index.json)
  join    the chunks -> a checkpoint that export.py reads (fp32)
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch

from .corrupt import Split

CHUNK_PREFIX = "weights-"


def pack(data_dir: Path, out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    # Fixed mtimes and order make the pack byte-identical for identical data.
    with lzma.open(out, "wb", preset=6) as xz, tarfile.open(fileobj=xz, mode="w") as tar:
        for name in ("train.npz", "val.npz", "summary.json"):
            path = data_dir / name
            if not path.exists():
                continue
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mtime = 0
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
    return out.stat().st_size


def _deltas(ranges) -> list[int]:
    """[[s, e], ...] sorted by s -> [s0, e0 - s0, s1 - s0, e1 - s1, ...]: small numbers, which xz packs well."""
    out, prev = [], 0
    for s, e in ranges:
        out += [s - prev, e - s]
        prev = s
    return out


def _undeltas(flat: list[int]) -> list[list[int]]:
    out, prev = [], 0
    for i in range(0, len(flat), 2):
        s = prev + flat[i]
        out.append([s, s + flat[i + 1]])
        prev = s
    return out


def pack_text(corpus_dir: Path, out: Path, preset: int = 9) -> dict:
    """files.jsonl + spans.jsonl -> xz tar of files.jsonl (text records) and annotations.jsonl (code-point offsets,
    delta-coded, identifier names as per-file indices)."""
    from .pack import utf16_to_codepoint
    annotations = {}
    with open(corpus_dir / "spans.jsonl") as fh:
        for line in fh:
            a = json.loads(line)
            annotations[a["id"]] = a
    files_buf, ann_buf = io.BytesIO(), io.BytesIO()
    count, text_bytes = 0, 0
    with open(corpus_dir / "files.jsonl") as fh:
        for line in fh:
            f = json.loads(line)
            a = annotations.get(f["id"], {"spans": [], "idents": []})
            convert = utf16_to_codepoint(f["text"])
            spans = sorted(a["spans"])
            idents = sorted(a["idents"], key=lambda x: (x[0], x[1]))
            if convert is not None:
                spans = [[int(convert(s)), int(convert(e))] for s, e in spans]
                idents = [[int(convert(s)), int(convert(e)), n] for s, e, n in idents]
            names: dict[str, int] = {}
            keys = [names.setdefault(n, len(names)) for _, _, n in idents]
            record = {"id": f["id"], "s": _deltas(spans), "i": _deltas([[s, e] for s, e, _ in idents]), "k": keys,
                      "n": list(names)}
            files_buf.write((json.dumps(f, ensure_ascii=False) + "\n").encode("utf-8"))
            ann_buf.write((json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8"))
            count += 1
            text_bytes += len(f["text"].encode("utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    with lzma.open(out, "wb", preset=preset | lzma.PRESET_EXTREME) as xz, tarfile.open(fileobj=xz, mode="w") as tar:
        for name, buf in (("files.jsonl", files_buf), ("annotations.jsonl", ann_buf)):
            info = tarfile.TarInfo(name)
            info.size = buf.tell()
            info.mtime = 0  # fixed mtimes and order: identical corpus, identical pack
            buf.seek(0)
            tar.addfile(info, buf)
    return {"files": count, "text_bytes": text_bytes, "annotation_bytes": ann_buf.tell(), "pack_bytes": out.stat().st_size}


def read_text(pack_path: Path, limit: int | None = None) -> tuple[list[dict], dict]:
    """(records, id -> {spans, idents}) from a pack_text tar; limit: only the first `limit` files (smoke tests)."""
    records, annotations = [], {}
    with lzma.open(pack_path, "rb") as xz, tarfile.open(fileobj=xz, mode="r|") as tar:
        for member in tar:
            lines = tar.extractfile(member)  # binary lines; json.loads takes UTF-8 bytes
            if member.name == "files.jsonl":
                for n, line in enumerate(lines):
                    if limit is not None and n >= limit:
                        break
                    records.append(json.loads(line))
            elif member.name == "annotations.jsonl":
                wanted = {r["id"] for r in records}
                for line in lines:
                    a = json.loads(line)
                    if a["id"] not in wanted:
                        if limit is not None and len(annotations) >= len(wanted):
                            break
                        continue
                    idents = [[s, e, a["n"][k]] for (s, e), k in zip(_undeltas(a["i"]), a["k"])]
                    annotations[a["id"]] = {"spans": _undeltas(a["s"]), "idents": idents}
    return records, annotations


def load_split(pack_path: Path, name: str) -> Split:
    with lzma.open(pack_path, "rb") as xz, tarfile.open(fileobj=xz, mode="r|") as tar:
        for member in tar:
            if member.name == f"{name}.npz":
                data = np.load(io.BytesIO(tar.extractfile(member).read()))
                return Split(data["tokens"].astype(np.int64), data["newline"], data["spans"].astype(np.int64),
                             data["idents"].astype(np.int64))
    raise FileNotFoundError(f"{pack_path} has no {name}.npz")


def chunk(checkpoint: Path, out_dir: Path, max_mib: float, prefix: str) -> list[Path]:
    state = torch.load(checkpoint, map_location="cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    limit = int(max_mib * 1024 * 1024)
    index = {"config": state["config"], "step": state.get("step"), "tokens": state.get("tokens"),
             "elapsed": state.get("elapsed"), "dtype": "bfloat16", "tensors": []}
    files: list[Path] = []
    buffer, used = io.BytesIO(), 0

    def flush() -> None:
        nonlocal buffer, used
        if used == 0:
            return
        path = out_dir / f"{prefix}{CHUNK_PREFIX}{len(files):02d}.bin"
        path.write_bytes(buffer.getvalue())
        files.append(path)
        buffer, used = io.BytesIO(), 0

    for key, tensor in state["model"].items():
        raw = tensor.detach().to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
        if len(raw) > limit:
            raise ValueError(f"tensor {key} ({len(raw)} bytes) is larger than one chunk; raise --max-mib")
        if used + len(raw) > limit:
            flush()
        index["tensors"].append({"name": key, "shape": list(tensor.shape), "file": len(files), "offset": used,
                                 "bytes": len(raw)})
        buffer.write(raw)
        used += len(raw)
    flush()
    index["files"] = [p.name for p in files]
    (out_dir / f"{prefix}weights-index.json").write_text(json.dumps(index) + "\n")
    return files


def join(index_path: Path, out: Path) -> None:
    index = json.loads(index_path.read_text())
    blobs = [(index_path.parent / name).read_bytes() for name in index["files"]]
    model = {}
    for t in index["tensors"]:
        raw = blobs[t["file"]][t["offset"]:t["offset"] + t["bytes"]]
        as_int16 = torch.from_numpy(np.frombuffer(raw, dtype=np.int16).copy())
        model[t["name"]] = as_int16.view(torch.bfloat16).to(torch.float32).reshape(t["shape"])
    torch.save({"model": model, "config": index["config"], "step": index["step"], "tokens": index["tokens"],
                "elapsed": index["elapsed"]}, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", default="build/data")
    p.add_argument("--out", default="build/pack/corpus.tar.xz")
    t = sub.add_parser("pack-text")
    t.add_argument("--corpus", default="build/corpus-jsts")
    t.add_argument("--out", default="build/pack/jsts.tar.xz")
    c = sub.add_parser("chunk")
    c.add_argument("--checkpoint", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--max-mib", type=float, default=15.0)
    c.add_argument("--prefix", default="")
    j = sub.add_parser("join")
    j.add_argument("--index", required=True)
    j.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "pack":
        size = pack(Path(args.data), Path(args.out))
        print(json.dumps({"pack": args.out, "bytes": size}), file=sys.stderr)
    elif args.cmd == "pack-text":
        print(json.dumps(pack_text(Path(args.corpus), Path(args.out))), file=sys.stderr)
    elif args.cmd == "chunk":
        files = chunk(Path(args.checkpoint), Path(args.out), args.max_mib, args.prefix)
        print(json.dumps({"chunks": [str(f) for f in files]}), file=sys.stderr)
    else:
        join(Path(args.index), Path(args.out))


if __name__ == "__main__":
    main()
