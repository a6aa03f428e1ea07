"""Inputs for the CPU dry run of gpu_train.sh (gpu_dryrun.sh and test/python/test_recipe.py): a small JS/TS text pack
annotated by the real spans.mjs, and a fake site-packages with one permissive and one copyleft distribution, so the
dry run goes through the same corpus, licence, annotation, tokenisation, training and return code as the GPU run.

    /usr/bin/python3 -m models.recipe.dryrun_fixture --out build/dryrun-fixture
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .transport import pack_text

REPO = Path(__file__).resolve().parents[2]

# Sources for the fake site-packages: CPython's own modules (PSF-licensed, present wherever this runs).
STDLIB_MODULES = ["textwrap.py", "string.py", "shlex.py", "fnmatch.py", "difflib.py", "calendar.py", "heapq.py",
                  "bisect.py", "colorsys.py", "glob.py", "json/decoder.py", "json/encoder.py", "csv.py", "queue.py"]


def js_files() -> list[dict]:
    """JS/TS files taken from this repository's own sources (committed, MIT like the project)."""
    picks = sorted((REPO / "src" / "engine").glob("*.ts"))[:12] + sorted((REPO / "models" / "recipe").glob("*.mjs"))
    files = []
    for i, path in enumerate(picks):
        text = path.read_text()
        lang = "typescript" if path.suffix == ".ts" else "javascript"
        files.append({"id": i, "source": "repo", "path": str(path.relative_to(REPO)), "lang": lang,
                      "split": "val" if i % 7 == 3 else "train", "text": text})
    return files


def fake_site(root: Path) -> Path:
    import sysconfig
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = root / "site-packages"
    for dist, licence, modules in (("okdemo", "MIT", STDLIB_MODULES[:10]), ("gpldemo", "GPL-3.0-only", STDLIB_MODULES[10:])):
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\nLicense: {licence}\n\n"
                                       "A fixture distribution.\n")
        rows = []
        for mod in modules:
            src = stdlib / mod
            if not src.exists():
                continue
            dest = site / dist / mod.replace("/", "_")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(src.read_text())
            rows.append(f"{dest.relative_to(site)},sha256=x,{dest.stat().st_size}")
        rows.append(f"{info.name}/METADATA,,")
        (info / "RECORD").write_text("\n".join(rows) + "\n")
    return site


def fake_stdlib(root: Path) -> Path:
    """A standard-library folder with a site-packages inside it (which corpus.py must skip)."""
    import sysconfig
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    lib = root / "stdlib"
    (lib / "site-packages" / "skipme").mkdir(parents=True, exist_ok=True)
    for mod in ("contextlib.py", "functools.py", "tokenize.py"):
        (lib / mod).write_text((stdlib / mod).read_text())
    (lib / "site-packages" / "skipme" / "mod.py").write_text((stdlib / "contextlib.py").read_text() + "\n# copy\n")
    return lib


def build(out: Path) -> dict:
    corpus = out / "jsts-corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    with open(corpus / "files.jsonl", "w") as fh:
        for f in js_files():
            fh.write(json.dumps(f) + "\n")
    subprocess.run(["node", str(REPO / "models" / "recipe" / "spans.mjs"), str(corpus / "files.jsonl"),
                    str(corpus / "spans.jsonl")], check=True, capture_output=True)
    packed = pack_text(corpus, out / "jsts.tar.xz")
    site = fake_site(out)
    return {"pack": str(out / "jsts.tar.xz"), "site": str(site), "stdlib": str(fake_stdlib(out)), **packed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="build/dryrun-fixture")
    print(json.dumps(build(Path(ap.parse_args().out))), file=sys.stderr)


if __name__ == "__main__":
    main()
