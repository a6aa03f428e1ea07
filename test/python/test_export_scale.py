"""bench/export_scale.py: the real-size shapes it writes are the ones the converter expects (nothing written at
full size here: config.json + tokenizer only), and its tiny Qwen3 shape converts end to end.

    /usr/bin/python3 -m unittest discover -s test/python -p 'test_export_scale.py'
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from io import StringIO

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

_spec = importlib.util.spec_from_file_location("export_scale", os.path.join(ROOT, "bench", "export_scale.py"))
export_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_scale)


def header_only(directory: str, shape: str) -> dict:
    spec = export_scale.SHAPES[shape]
    cfg = dict(spec["config"], torch_dtype="bfloat16")
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f)
    export_scale.write_tokenizer(os.path.join(directory, "tokenizer.json"), spec["specials"])
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump(spec["tokenizer_config"], f)
    return export_scale.tensor_shapes(directory, cfg["vocab_size"])


class ExportScaleShapes(unittest.TestCase):
    def params(self, shape: str) -> tuple:
        with tempfile.TemporaryDirectory() as d:
            shapes = header_only(d, shape)
        return shapes, sum(int(np.prod(s)) for s in shapes.values())

    def test_qwen3_0_6b_is_the_published_size(self):
        shapes, n = self.params("qwen3-0.6b")
        self.assertEqual(n, 596_049_920)  # Qwen3-0.6B, tied head: 0.6 B with the 151936-row embedding
        self.assertEqual(shapes["model.layers.27.self_attn.q_proj.weight"], (16 * 128, 1024))  # head_dim 128
        self.assertEqual(shapes["model.layers.0.self_attn.k_norm.weight"], (128,))
        self.assertNotIn("model.layers.0.self_attn.q_proj.bias", shapes)
        self.assertNotIn("lm_head.weight", shapes)

    def test_qwen2_shapes_keep_their_biases(self):
        shapes, n = self.params("open-dcoder-0.5b")
        self.assertEqual(n, 494_032_768)  # Qwen2.5-0.5B
        self.assertEqual(shapes["model.layers.0.self_attn.k_proj.bias"], (2 * 64,))
        shapes, _ = self.params("dream-7b")
        self.assertEqual(shapes["lm_head.weight"], (152064, 3584))

    def test_qwen3_tiny_converts(self):
        with tempfile.TemporaryDirectory() as d, redirect_stdout(StringIO()):
            self.assertEqual(export_scale.main(["--shape", "qwen3-tiny", "--out", d, "--fast-random"]), 0)
            with open(os.path.join(d, "model", "model.json")) as f:
                manifest = json.load(f)
        self.assertEqual(manifest["architecture"]["family"], "qwen3")


if __name__ == "__main__":
    unittest.main()
