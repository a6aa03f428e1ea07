"""Tests of the model recipe (models/recipe): tokenizer, corruption modes, resumable training, export.

Run: /usr/bin/python3 -m unittest discover -s test/python -p 'test_*.py'   (from the repository root)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from models.recipe import bpe, corrupt  # noqa: E402
from models.recipe.bpe import MASK_ID, PAD_ID  # noqa: E402

CODE = [
    "def area(width, height):\n    result = width * height\n    return result\n\n\nprint(area(2, 3))\n",
    "function greet(name) {\n  const message = 'hello ' + name;\n  return message;\n}\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n"
    "        self.items.append(item)\n",
    "export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);\n",
]


def synthetic_split(encoder: bpe.Encoder, repeats: int = 40) -> corrupt.Split:
    """A packed split with hand-made annotations: every line is a 'span', identifier keys by token text."""
    tokens, spans, idents = [], [], []
    for r in range(repeats):
        for text in CODE:
            ids = encoder.encode(text)
            base = len(tokens)
            line_start = base
            for i, tid in enumerate(ids):
                tok = encoder.id_to_token[tid]
                if "Ċ" in tok:
                    spans.append((line_start, base + i + 1))
                    line_start = base + i + 1
                word = tok.lstrip("Ġ")
                if word.isidentifier():
                    idents.append((base + i, base + i + 1, hash(word) & 0xFFFF))
            tokens.extend(ids + [bpe.EOS_ID])
    tokens_arr = np.asarray(tokens, dtype=np.int64)
    newline = np.asarray(["Ċ" in encoder.id_to_token[t] for t in tokens], dtype=bool)
    spans_arr = np.asarray(sorted(spans), dtype=np.int64)
    idents_arr = np.asarray(sorted(idents), dtype=np.int64)
    return corrupt.Split(tokens_arr, newline, spans_arr, idents_arr)


class TokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vocab, merges = bpe.train(CODE * 5, 400)
        cls.encoder = bpe.Encoder(vocab, merges)

    def test_special_tokens_come_first(self):
        self.assertEqual([self.encoder.vocab[t] for t in bpe.SPECIAL_TOKENS], [PAD_ID, MASK_ID, bpe.EOS_ID])

    def test_round_trip_is_exact(self):
        for text in CODE + ["\t\tx = 'ü😀'\r\n  \n", "   ", "a\u00a0b"]:
            self.assertEqual(self.encoder.decode(self.encoder.encode(text)), text)

    def test_merges_shorten_code(self):
        text = CODE[0]
        self.assertLess(len(self.encoder.encode(text)), len(text.encode("utf-8")) * 0.7)

    def test_offsets_point_at_token_starts(self):
        text = CODE[1]
        ids, starts = self.encoder.encode_with_offsets(text)
        self.assertEqual(len(ids), len(starts))
        rebuilt = "".join(text[s:e] for s, e in zip(starts, starts[1:] + [len(text)]))
        self.assertEqual(rebuilt, text)
        self.assertEqual(starts, sorted(starts))


class CorruptionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        vocab, merges = bpe.train(CODE * 5, 400)
        cls.encoder = bpe.Encoder(vocab, merges)
        cls.split = synthetic_split(cls.encoder)
        cls.length = 64

    def window_start(self, rng):
        return int(rng.integers(0, self.split.tokens.size - 2 * self.length - 1))

    def test_uniform_weights_are_one_over_t(self):
        x = self.split.tokens[:self.length]
        masked, weight = corrupt.uniform(x, np.random.default_rng(0), t=0.25)
        self.assertTrue(masked.any())
        np.testing.assert_allclose(weight, 4.0)

    def test_span_mode_masks_whole_spans(self):
        rng = np.random.default_rng(3)
        checked = 0
        for _ in range(30):
            start = self.window_start(rng)
            x = self.split.tokens[start:start + self.length]
            # The mask target span_mask will draw, read from a copy of the generator.
            peek = np.random.default_rng()
            peek.bit_generator.state = rng.bit_generator.state
            target = max(1, int(round(corrupt.sample_t(peek) * self.length)))
            masked, weight = corrupt.span_mask(x, start, self.split, rng)
            spans = corrupt.in_window(self.split.spans, start, start + self.length) - start
            if not any(e - s <= target for s, e in spans):
                continue  # documented fallback to uniform noise when no unit fits the target
            covered = np.zeros(self.length, dtype=bool)
            for s, e in spans:
                if masked[s:e].all():
                    covered[s:e] = True
            np.testing.assert_array_equal(masked & ~covered, np.zeros(self.length, dtype=bool))
            self.assertAlmostEqual(float(weight[0]), 1.0 / max(masked.mean(), 0.02), places=5)
            checked += 1
        self.assertGreater(checked, 10)

    def test_identifier_mode_masks_every_occurrence(self):
        rng = np.random.default_rng(5)
        start = self.window_start(rng)
        x = self.split.tokens[start:start + self.length]
        masked, _ = corrupt.identifier_mask(x, start, self.split, rng)
        occ = corrupt.in_window(self.split.idents, start, start + self.length)
        keys_fully_masked = {k for s, e, k in occ if masked[s - start:e - start].all()}
        self.assertTrue(keys_fully_masked, "at least one identifier is masked")
        for s, e, k in occ:
            if k in keys_fully_masked:
                self.assertTrue(masked[s - start:e - start].all(), "all occurrences of a chosen identifier")

    def test_region_mode_has_line_aligned_canvas_with_pad_tail(self):
        rng = np.random.default_rng(11)
        seen = 0
        for _ in range(50):
            start = self.window_start(rng)
            window = self.split.tokens[start:start + 2 * self.length]
            built = corrupt.region_example(window, start, self.split, self.length, rng)
            if built is None:
                continue
            seq, masked, weight = built
            self.assertEqual(seq.size, self.length)
            self.assertTrue(np.all(weight >= 1.0))
            if weight[0] != 1.0:
                continue  # partially revealed canvas: its bounds are not visible from the mask alone
            idx = np.flatnonzero(masked)
            self.assertEqual(idx.size, idx[-1] - idx[0] + 1, "the fully masked canvas is contiguous")
            lo, hi = idx[0], idx[-1] + 1
            canvas = seq[lo:hi]
            # Pad only at the tail of the canvas, after the true tokens.
            pads = np.flatnonzero(canvas == PAD_ID)
            if pads.size:
                self.assertTrue((canvas[pads[0]:] == PAD_ID).all())
            # The token before the hole ends a line.
            if lo > 0:
                self.assertIn("Ċ", self.encoder.id_to_token[int(seq[lo - 1])])
            seen += 1
        self.assertGreater(seen, 5)

    def test_batches_are_a_function_of_the_seed(self):
        a = corrupt.make_batch(self.split, 4, self.length, np.random.default_rng([1, 7]))
        b = corrupt.make_batch(self.split, 4, self.length, np.random.default_rng([1, 7]))
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)
        inputs, targets, masked, _, modes = a
        self.assertTrue((inputs[masked] == MASK_ID).all())
        self.assertTrue((inputs[~masked] == targets[~masked]).all())
        self.assertTrue(set(modes) <= set(corrupt.MODES))

    def test_uniform_only_mixture(self):
        batch = corrupt.make_batch(self.split, 16, self.length, np.random.default_rng(2), corrupt.UNIFORM_ONLY)
        self.assertEqual(set(batch[4]), {"uniform"})


class TrainExportTest(unittest.TestCase):
    """A tiny real run: resumable and deterministic, then exported to ONNX with a valid manifest."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        vocab, merges = bpe.train(CODE * 5, 300)
        bpe.save(root / "tok", vocab, merges)
        encoder = bpe.Encoder(vocab, merges)
        split = synthetic_split(encoder, repeats=30)
        (root / "data").mkdir()
        for name in ("train", "val"):
            np.savez(root / "data" / f"{name}.npz", tokens=split.tokens.astype(np.uint16), newline=split.newline,
                     spans=split.spans.astype(np.int32), idents=split.idents.astype(np.int32))
        cls.root, cls.vocab_size = root, len(vocab)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def train(self, out: str, tokens: int, extra=()):
        args = ["-m", "models.recipe.train", "--data", str(self.root / "data"), "--out", str(self.root / out),
                "--layers", "1", "--hidden", "32", "--heads", "2", "--vocab-size", str(self.vocab_size),
                "--seq-len", "32", "--batch", "2", "--tokens", str(tokens), "--warmup", "2", "--val-every", "4",
                "--val-windows", "4", "--log-every", "1", "--threads", "1", "--no-bf16", *extra]
        subprocess.run([sys.executable, *args], cwd=REPO, check=True, capture_output=True)
        return [json.loads(line) for line in open(self.root / out / "log.jsonl")]

    def test_resume_matches_uninterrupted_run(self):
        import torch
        self.train("straight", 64 * 8)
        self.train("resumed", 64 * 8, ["--stop-step", "4"])  # interrupted after 4 of 8 steps
        self.train("resumed", 64 * 8)  # continues from the step-4 checkpoint
        a = torch.load(self.root / "straight" / "final.pt")["model"]
        b = torch.load(self.root / "resumed" / "final.pt")["model"]
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)

    def test_log_has_loss_and_validation_accuracy(self):
        log = self.train("logged", 64 * 4)
        self.assertTrue(any("loss" in r for r in log))
        self.assertTrue(any("val_uniform15_acc" in r for r in log))
        self.assertEqual(log[-1]["event"], "done")

    def test_export_writes_valid_onnx_and_manifest(self):
        import onnx
        self.train("exported", 64 * 2)
        out = self.root / "model"
        subprocess.run([sys.executable, "-m", "models.recipe.export", "--checkpoint",
                        str(self.root / "exported" / "final.pt"), "--tokenizer-dir", str(self.root / "tok"),
                        "--out", str(out), "--name", "tiny", "--top-k", "4"],
                       cwd=REPO, check=True, capture_output=True)
        manifest = json.loads((out / "model.json").read_text())
        self.assertEqual(manifest["vocab_size"], self.vocab_size)
        self.assertEqual(manifest["special_tokens"]["mask"], MASK_ID)
        self.assertEqual(manifest["logit_shift"], "none")
        self.assertEqual(manifest["output_kind"], "positions_topk")
        graph = onnx.load(out / "model.onnx")
        onnx.checker.check_model(graph)
        self.assertEqual([i.name for i in graph.graph.input], ["input_ids", "positions"])
        self.assertEqual([o.name for o in graph.graph.output], ["topk_ids", "topk_probs", "entropy"])
        ref = json.loads((out / "reference.json").read_text())
        self.assertEqual(len(ref["topk_ids"][0]), 4)
        # The mask token is never proposed.
        self.assertNotIn(MASK_ID, [row[0] for row in ref["topk_ids"]])


if __name__ == "__main__":
    unittest.main()
