"""Build the GPU run's training data on the GPU machine: the JS/TS half from the carried text pack, the Python half
from that machine's own site-packages, both tokenised there with the engine's tokenizer.json.

  1. read the JS/TS pack (transport.py pack-text: text + tree-sitter annotations made on the CPU side);
  2. build the Python half (corpus.py --preset python: licence per dist-info, the same filters, dedup and HumanEval
     decontamination, deterministic) and annotate it with pyspans.py (ast/tokenize; that machine has no Node);
  3. check that `tokenizers` and bpe.py give identical ids on a sample (--require-tokenizers: stop if tokenizers is
     missing or they differ), then tokenise everything and write train.npz/val.npz (corrupt.Split arrays) and
     summary.json (tokens per split and per language, parity result).
Deterministic: the same pack, site-packages and tokenizer give the same arrays for any --workers.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from . import corpus, pyspans
from .tokenise import Tokeniser, build_splits, save_splits
from .transport import read_text


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsts-pack", default=None, help="transport.py pack-text output (omit: Python only)")
    ap.add_argument("--jsts-limit", type=int, default=None, help="only the pack's first N files (smoke runs)")
    ap.add_argument("--python-root", default=None, help="site-packages to build the Python half from (omit: none)")
    ap.add_argument("--python-stdlib", default=None, help="also this standard library folder (PSF-2.0)")
    ap.add_argument("--python-scale", type=float, default=1.0, help="scales the Python byte cap (dry runs)")
    ap.add_argument("--tokenizer", default="models/default/tokenizer.json")
    ap.add_argument("--out", default="build/gpu-data")
    ap.add_argument("--manifest-out", default=None, help="where the Python half's manifest goes (default: --out)")
    ap.add_argument("--bench", default=None, help="HumanEval-Infilling folder (default: corpus.py's)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--parity-sample", type=int, default=300)
    ap.add_argument("--require-tokenizers", action="store_true")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    timings = {}

    records, annotations = [], {}
    if args.jsts_pack:
        records, annotations = read_text(Path(args.jsts_pack), args.jsts_limit)
    timings["read_jsts_s"] = round(time.time() - t0, 1)
    if args.python_root:
        t1 = time.time()
        py_out = out / "corpus-py"
        manifest = Path(args.manifest_out or out / "corpus-manifest-python.json")
        cargs = ["--preset", "python", "--python-root", args.python_root, "--out", str(py_out),
                 "--manifest", str(manifest), "--workers", str(args.workers), "--scale", str(args.python_scale),
                 "--seed", str(args.seed), "--id-offset", str(max((r["id"] for r in records), default=-1) + 1)]
        if args.bench:
            cargs += ["--bench", args.bench]
        if args.python_stdlib:
            cargs += ["--python-stdlib", args.python_stdlib]
        corpus.main(cargs)
        py_records = [json.loads(line) for line in open(py_out / "files.jsonl")]
        timings["python_corpus_s"] = round(time.time() - t1, 1)
        t1 = time.time()
        if args.workers > 1:
            import multiprocessing as mp
            with mp.get_context("fork").Pool(args.workers) as pool:
                py_ann = pool.map(pyspans.annotate_file, py_records, chunksize=32)
        else:
            py_ann = [pyspans.annotate_file(r) for r in py_records]
        for a in py_ann:
            annotations[a["id"]] = a
        records += py_records
        timings["python_annotate_s"] = round(time.time() - t1, 1)
    if not records:
        sys.exit("error: no files (give --jsts-pack and/or --python-root)")

    tok = Tokeniser(Path(args.tokenizer), "tokenizers" if args.require_tokenizers else "auto")
    sample = random.Random(args.seed).sample(records, min(args.parity_sample, len(records)))
    parity = tok.parity([r["text"] for r in sample])
    if args.require_tokenizers and parity.get("mismatches"):
        sys.exit(f"error: tokenizers and bpe.py disagree on {len(parity['mismatches'])} of {parity['checked']} files")
    t1 = time.time()
    built = build_splits(records, annotations, tok)
    timings["tokenise_s"] = round(time.time() - t1, 1)
    by_lang: dict[str, dict] = {}
    for r in records:
        entry = by_lang.setdefault(r["lang"], {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += len(r["text"].encode("utf-8"))
    built["summary"].update({"parity": {"backend": tok.backend, **parity}, "languages": by_lang,
                             "annotated_files": sum(1 for r in records if annotations.get(r["id"], {}).get("spans")),
                             "timings": {**timings, "total_s": round(time.time() - t0, 1)}})
    save_splits(built, out)
    print(json.dumps(built["summary"]), file=sys.stderr)
    return built["summary"]


if __name__ == "__main__":
    main()
