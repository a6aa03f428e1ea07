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

    def test_resume_from_returned_weights_rewarms_a_fresh_optimiser(self):
        import torch
        from models.recipe.train import lr_at
        self.train("first", 64 * 4)
        chunks = self.root / "chunks"
        subprocess.run([sys.executable, "-m", "models.recipe.transport", "chunk", "--checkpoint",
                        str(self.root / "first" / "final.pt"), "--out", str(chunks), "--max-mib", "0.02"],
                       cwd=REPO, check=True, capture_output=True)
        self.assertGreater(len(list(chunks.glob("weights-*.bin"))), 1, "several chunks")
        subprocess.run([sys.executable, "-m", "models.recipe.transport", "join", "--index",
                        str(chunks / "weights-index.json"), "--out", str(self.root / "joined.pt")],
                       cwd=REPO, check=True, capture_output=True)
        joined = torch.load(self.root / "joined.pt")
        first = torch.load(self.root / "first" / "final.pt")
        for key, value in first["model"].items():  # bf16 on the way back
            torch.testing.assert_close(joined["model"][key], value, rtol=1e-2, atol=1e-2)
        log = self.train("continued", 64 * 8, ["--resume-from", str(self.root / "joined.pt")])
        self.assertEqual(log[0]["event"], "resume_from")
        self.assertEqual(log[0]["step"], 4)
        self.assertEqual(log[-1]["event"], "done")
        self.assertEqual(log[-1]["step"], 8)
        lrs = {r["step"]: r["lr"] for r in log if "lr" in r}
        # First step after the resume (logged as step 5): half of the schedule's rate (warm-up of 2 steps).
        self.assertAlmostEqual(lrs[5], 0.5 * lr_at(4, 8, 1e-3, 2), places=9)
        self.assertAlmostEqual(lrs[6], lr_at(5, 8, 1e-3, 2), places=9)

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


# --- Issue 10: the GPU run's data path, corpus and script -----------------------------------------------------------

import gzip  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402

from models.recipe import corpus as corpus_mod, pyspans, tokenise, transport  # noqa: E402


class TorchCorruptionTest(unittest.TestCase):
    """corrupt_torch.py: the on-device modes keep corrupt.py's contracts, batch by batch."""

    @classmethod
    def setUpClass(cls):
        import torch
        from models.recipe import corrupt_torch
        cls.torch, cls.ct = torch, corrupt_torch
        vocab, merges = bpe.train(CODE * 5, 400)
        cls.encoder = bpe.Encoder(vocab, merges)
        cls.split = synthetic_split(cls.encoder, repeats=60)
        cls.data = corrupt_torch.DeviceSplit.from_split(cls.split, "cpu")
        cls.L = 64
        cls.batch = corrupt_torch.make_batch(cls.data, 512, cls.L, corrupt_torch.generator_for(3, 11, "cpu"),
                                             corrupt.STRUCTURED_MIXTURE)

    def rows(self, mode):
        return [int(i) for i in (self.batch[4] == corrupt.MODES.index(mode)).nonzero().flatten()]

    def test_batch_is_a_pure_function_of_seed_and_step(self):
        a = self.ct.make_batch(self.data, 32, self.L, self.ct.generator_for(1, 5, "cpu"), corrupt.STRUCTURED_MIXTURE)
        b = self.ct.make_batch(self.data, 32, self.L, self.ct.generator_for(1, 5, "cpu"), corrupt.STRUCTURED_MIXTURE)
        c = self.ct.make_batch(self.data, 32, self.L, self.ct.generator_for(1, 6, "cpu"), corrupt.STRUCTURED_MIXTURE)
        for x, y in zip(a, b):
            self.assertTrue(self.torch.equal(x, y))
        self.assertFalse(self.torch.equal(a[0], c[0]))

    def test_inputs_are_targets_with_mask_tokens_at_masked_positions(self):
        inputs, targets, masked, weight, modes = self.batch
        self.assertTrue((inputs[masked] == MASK_ID).all())
        self.assertTrue((inputs[~masked] == targets[~masked]).all())
        self.assertTrue(masked.any(1).all(), "every row has a masked position")
        self.assertTrue((weight >= 1.0).all())

    def test_mixture_proportions(self):
        counts = self.torch.bincount(self.batch[4], minlength=4).float() / self.batch[4].numel()
        # Fallbacks only move rows to uniform; every mode is present in about its share.
        for k, share in enumerate(corrupt.STRUCTURED_MIXTURE[1:], start=1):
            self.assertGreater(float(counts[k]), share * 0.6, corrupt.MODES[k])
            self.assertLess(float(counts[k]), share + 0.08, corrupt.MODES[k])
        only = self.ct.make_batch(self.data, 64, self.L, self.ct.generator_for(0, 0, "cpu"), corrupt.UNIFORM_ONLY)
        self.assertTrue((only[4] == 0).all())

    def test_uniform_weight_is_one_over_the_rate(self):
        inputs, targets, masked, weight, modes = self.batch
        rows = self.rows("uniform")
        self.assertGreater(len(rows), 50)
        w = weight[rows]
        self.assertTrue((w == w[:, :1]).all(), "one weight per row")
        rate = masked[rows].float().mean(1)
        # 1/t against the realised rate: loose, 64 positions per row.
        self.assertLess(float((1.0 / w[:, 0] - rate).abs().mean()), 0.08)

    def test_span_rows_mask_whole_units(self):
        inputs, targets, masked, weight, modes = self.batch
        starts = self._starts()
        checked = 0
        for row in self.rows("span"):
            s0 = starts[row]
            units = corrupt.in_window(self.split.spans, s0, s0 + self.L) - s0
            m = masked[row].numpy()
            covered = np.zeros(self.L, dtype=bool)
            for s, e in units:
                if m[s:e].all():
                    covered[s:e] = True
            np.testing.assert_array_equal(m & ~covered, np.zeros(self.L, dtype=bool))
            self.assertAlmostEqual(float(weight[row, 0]), 1.0 / max(m.mean(), 0.02), places=4)
            checked += 1
        self.assertGreater(checked, 40)

    def test_identifier_rows_mask_every_occurrence_of_a_chosen_name(self):
        inputs, targets, masked, weight, modes = self.batch
        starts = self._starts()
        checked = 0
        for row in self.rows("identifier"):
            s0 = starts[row]
            occ = corrupt.in_window(self.split.idents, s0, s0 + self.L)
            m = masked[row].numpy()
            by_key: dict[int, list[bool]] = {}
            for s, e, k in occ:
                by_key.setdefault(int(k), []).append(bool(m[s - s0:e - s0].all()))
            fully = [k for k, hits in by_key.items() if all(hits) and len(hits) >= 2]
            self.assertTrue(any(all(h) for h in by_key.values()), f"row {row}: no name fully masked")
            checked += bool(fully)
        self.assertGreater(checked, 20, "names with several occurrences get all of them masked")

    def test_region_rows_are_line_aligned_with_a_pad_tail(self):
        inputs, targets, masked, weight, modes = self.batch
        seen = 0
        for row in self.rows("region"):
            if float(weight[row, 0]) != 1.0:
                continue  # partially revealed canvas: bounds not visible from the mask alone
            idx = np.flatnonzero(masked[row].numpy())
            self.assertEqual(idx.size, idx[-1] - idx[0] + 1, "the fully masked canvas is contiguous")
            canvas = targets[row, idx[0]:idx[-1] + 1].numpy()
            pads = np.flatnonzero(canvas == PAD_ID)
            if pads.size:
                self.assertTrue((canvas[pads[0]:] == PAD_ID).all(), "pad only at the tail of the canvas")
            if idx[0] > 0:
                self.assertIn("Ċ", self.encoder.id_to_token[int(targets[row, idx[0] - 1])])
            truth = canvas[canvas != PAD_ID]
            if truth.size:
                self.assertIn("Ċ", self.encoder.id_to_token[int(truth[-1])], "the hole ends on a newline token")
            seen += 1
        self.assertGreater(seen, 20)

    def _starts(self):
        """Window starts of the shared batch, recomputed from the same generator draw (the first draw of make_batch)."""
        g = self.ct.generator_for(3, 11, "cpu")
        total = self.data.tokens.numel()
        return self.torch.randint(0, total - 2 * self.L - 1, (512,), generator=g).numpy()


class PySpansTest(unittest.TestCase):
    TEXT = ("def area(width, height):\n    \"\"\"Größe ü\"\"\"\n    result = width * height  # ü\n"
            "    return result\n\n\nprint(area(2, 3))\nmatch = 1\n")

    def test_units_are_statements_and_expressions_at_character_offsets(self):
        spans, idents = pyspans.annotate(self.TEXT)
        texts = {self.TEXT[s:e] for s, e in spans}
        self.assertIn("result = width * height", texts)  # after a non-ASCII line: byte columns converted
        self.assertIn("width * height", texts)
        self.assertIn("print(area(2, 3))", texts)
        self.assertIn("return result", texts)
        self.assertNotIn("width", texts, "leaves (names) are not units")

    def test_identifiers_are_every_name_occurrence(self):
        _, idents = pyspans.annotate(self.TEXT)
        for s, e, name in idents:
            self.assertEqual(self.TEXT[s:e], name)
        names = [n for _, _, n in idents]
        self.assertEqual(names.count("width"), 2)
        self.assertEqual(names.count("result"), 2)
        self.assertIn("match", names, "soft keywords used as names are identifiers")
        self.assertNotIn("def", names)

    def test_unparsable_file_keeps_identifiers(self):
        spans, idents = pyspans.annotate("print 'python 2'\nx = y\n")
        self.assertEqual(spans, [])
        self.assertIn("y", [n for _, _, n in idents])


class TokeniseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        vocab, merges = bpe.train(CODE * 5, 400)
        bpe.save(Path(cls.tmp.name), vocab, merges)
        cls.tok = tokenise.Tokeniser(Path(cls.tmp.name) / "tokenizer.json", backend="bpe")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_char_starts_equal_bpe_offsets(self):
        for text in CODE + ["naïve = 'ü' + '日本語' + '😀𝔘'\n", "x\u00a0=\u2003y"]:
            ids, starts = self.tok.bpe.encode_with_offsets(text)
            self.assertEqual(self.tok.char_starts(ids, text).tolist(), starts, text)

    def test_build_splits_maps_annotations_to_covering_tokens(self):
        text = PySpansTest.TEXT
        spans, idents = pyspans.annotate(text)
        records = [{"id": 0, "split": "train", "text": text, "lang": "python"},
                   {"id": 1, "split": "val", "text": "<|mask|> literal\n" + text, "lang": "python"}]
        built = tokenise.build_splits(records, {0: {"spans": spans, "idents": idents}}, self.tok)
        self.assertEqual(built["summary"]["skipped_special_literal"], 1)
        train = built["train"]
        self.assertEqual(int(train["tokens"][-1]), bpe.EOS_ID)
        self.assertEqual(len(train["idents"]), len(idents))
        for (s, e, key), (_, _, name) in zip(train["idents"], sorted(idents)):
            self.assertIn(name, self.tok.bpe.decode(train["tokens"][s:e]))
        widths = {int(k) for (s, e, k), (_, _, n) in zip(train["idents"], sorted(idents)) if n == "width"}
        self.assertEqual(len(widths), 1, "one key per name per file")
        self.assertEqual(built["val"]["tokens"].size, 0)

    def test_bpe_matches_the_engine_tokenizer_on_corpus_like_text(self):
        """bpe.py (what the GPU run checks tokenizers against) equals @huggingface/tokenizers in Node (the engine)."""
        if shutil.which("node") is None:
            self.fail("node is required (the engine's tokenizer runs in Node)")
        texts = CODE + [PySpansTest.TEXT, "\t\tx = 'ü😀'\r\n  \n", "   ", "a\u00a0b", "<|mask|>"[1:]]
        sources = [p.read_text() for p in sorted((REPO / "models" / "recipe").glob("*.py"))]
        # Files with special-token literals are the one known difference (the engine's tokenizer turns "<|mask|>" into
        # the mask id, bpe.py does not): tokenise.build_splits skips them, so they are checked apart.
        texts += [t for t in sources if not tokenise.has_special_literal(t)]
        literal = [t for t in sources if tokenise.has_special_literal(t)]
        result = tokenise.parity_with_node(REPO / "models" / "default" / "tokenizer.json", texts + literal)
        self.assertEqual(result["mismatches"], list(range(len(texts), len(texts) + len(literal))))
        self.assertGreater(result["tokens"], 20000)


class CorpusPartsTest(unittest.TestCase):
    def test_python_licences_from_dist_info(self):
        cases = {
            "Name: a\nLicense-Expression: BSD-3-Clause\n": True,
            "Name: a\nLicense: MIT\n": True,
            "Name: a\nClassifier: License :: OSI Approved :: Apache Software License\n": True,
            "Name: a\nLicense: GPL-3.0-or-later\n": False,
            "Name: a\nLicense-Expression: MIT OR GPL-2.0\n": False,
            "Name: a\nClassifier: License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)\n": False,
            "Name: a\n": False,
        }
        for meta, permissive in cases.items():
            self.assertEqual(corpus_mod.is_permissive_python(corpus_mod.dist_licence(meta)), permissive, meta)

    def test_decontaminator_drops_files_holding_a_humaneval_body(self):
        with tempfile.TemporaryDirectory() as tmp:
            body = "    total = 0\n    for value in numbers:\n        total += value * value\n    return total\n"
            task = {"task_id": "SingleLineInfilling/HumanEval/0/L0", "prompt": 'def f(numbers):\n    """Sum."""\n',
                    "canonical_solution": body, "suffix": ""}
            with gzip.open(Path(tmp) / "HumanEval-SingleLineInfilling.jsonl.gz", "wt") as fh:
                fh.write(json.dumps(task) + "\n")
            d = corpus_mod.Decontaminator(Path(tmp))
            self.assertEqual(len(d.snippets), 1)
            reindented = "def g(numbers):\n  total = 0\n  for value in numbers:\n      total += value * value\n  return total\n"
            self.assertEqual(d.hits(reindented), ["HumanEval/0"])
            self.assertEqual(d.hits("def g(numbers):\n    return sum(v * v for v in numbers)\n"), [])

    def test_pack_text_round_trip_converts_utf16_offsets(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            text = "const s = '😀';\nconst t = s + s;\n"
            (root / "files.jsonl").write_text(json.dumps({"id": 5, "split": "train", "lang": "javascript",
                                                          "source": "x", "path": "a.js", "text": text}) + "\n")
            subprocess.run(["node", str(REPO / "models" / "recipe" / "spans.mjs"), str(root / "files.jsonl"),
                            str(root / "spans.jsonl")], check=True, capture_output=True)
            info = transport.pack_text(root, root / "p.tar.xz")
            self.assertEqual(info["files"], 1)
            records, ann = transport.read_text(root / "p.tar.xz")
            self.assertEqual(records[0]["text"], text)
            names = [(text[s:e], n) for s, e, n in ann[5]["idents"]]
            self.assertTrue(names and all(a == b for a, b in names), names)  # code-point offsets after the emoji
            self.assertIn("s + s", {text[s:e] for s, e in ann[5]["spans"]})


class GpuScriptDryRunTest(unittest.TestCase):
    """The identical GPU script (models/recipe/gpu_train.sh) on this CPU at tiny sizes: smoke stage, data build from
    a fake site-packages + a JS/TS pack, probe, both models side by side, return within 8 files; then the CPU side
    joins and exports what came back."""

    def test_gpu_script_end_to_end_on_cpu(self):
        from models.recipe import dryrun_fixture
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            fixture = dryrun_fixture.build(root / "fixture")
            env = {**os.environ, "PY": sys.executable, "DEVICE": "cpu", "OUT": str(root / "out"),
                   "JSTS_PACK": fixture["pack"], "SITE": fixture["site"], "STDLIB": fixture["stdlib"], "SIZES": "2x64 1x32", "BATCH": "8",
                   "SEQ": "64", "PROBE_STEPS": "4", "MAX_TRAIN": "4", "RESERVE": "5", "WORKERS": "2",
                   "TARGET_TOKENS": "1", "VAL_WINDOWS": "8", "VAL_EVERY": "20", "RUNS": str(root / "runs"),
                   "DATA": str(root / "data")}
            run = subprocess.run(["bash", str(REPO / "models" / "recipe" / "gpu_train.sh")], cwd=REPO, env=env,
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr[-3000:])
            files = sorted(p.name for p in (root / "out").iterdir())
            self.assertLessEqual(len(files), 8)
            self.assertEqual(files, ["meta.tar", "structured-weights-00.bin", "uniform-weights-00.bin"])
            meta = root / "meta"
            meta.mkdir()
            subprocess.run(["tar", "-xf", str(root / "out" / "meta.tar"), "-C", str(meta)], check=True)
            summary = json.loads((meta / "data-summary.json").read_text())
            self.assertEqual(set(summary["languages"]), {"python", "typescript", "javascript"})
            self.assertGreater(summary["train"]["spans"], 1000)
            manifest = json.loads((meta / "corpus-manifest-python.json").read_text())
            self.assertEqual(sorted((s["name"], s["licence"], s["files"]) for s in manifest["sources"]),
                             [("pypi:okdemo", "MIT", 10), ("python-stdlib", "PSF-2.0", 3)])
            self.assertEqual([e["name"] for e in manifest["excluded_non_permissive"]], ["gpldemo"])
            probes = [json.loads(line) for line in (meta / "probe.jsonl").read_text().splitlines()]
            self.assertEqual([p["size"] for p in probes[:2]], ["2x64", "1x32"])
            for p in probes[:2]:
                self.assertIn("data_wait_share", p["probe"])
                self.assertEqual(p["probe"]["gpu_utilisation_pct"], "n/a")
            self.assertIn(probes[2]["chosen"], ("2x64", "1x32"))
            for variant in ("structured", "uniform"):
                log = [json.loads(line) for line in (meta / f"{variant}-log.jsonl").read_text().splitlines()]
                self.assertEqual(log[-1]["event"], "done")
                self.assertEqual(log[0]["args"]["data_path"], "torch")
            # A second call on the still-warm machine continues both runs (optimiser state included), data reused.
            first_steps = log[-1]["step"]
            data_mtime = (root / "data" / "train.npz").stat().st_mtime_ns
            again = subprocess.run(["bash", str(REPO / "models" / "recipe" / "gpu_train.sh")], cwd=REPO,
                                   env={**env, "CONTINUE": "1", "SMOKE": "0", "OUT": str(root / "out2")},
                                   capture_output=True, text=True)
            self.assertEqual(again.returncode, 0, again.stderr[-3000:])
            self.assertEqual((root / "data" / "train.npz").stat().st_mtime_ns, data_mtime, "data reused")
            meta2 = root / "meta2"
            meta2.mkdir()
            subprocess.run(["tar", "-xf", str(root / "out2" / "meta.tar"), "-C", str(meta2)], check=True)
            log2 = [json.loads(line) for line in (meta2 / "uniform-log.jsonl").read_text().splitlines()]
            self.assertGreater(log2[-1]["step"], first_steps)
            self.assertEqual(json.loads((meta2 / "probe.jsonl").read_text().splitlines()[0])["size"],
                             probes[2]["chosen"], "the continued run keeps its size")
            # Back on the CPU: join the chunks and export, as docs/gpu-training.md says.
            shutil.copy(root / "out" / "structured-weights-00.bin", meta)
            subprocess.run([sys.executable, "-m", "models.recipe.transport", "join", "--index",
                            str(meta / "structured-weights-index.json"), "--out", str(root / "s.pt")],
                           cwd=REPO, check=True, capture_output=True)
            subprocess.run([sys.executable, "-m", "models.recipe.export", "--checkpoint", str(root / "s.pt"),
                            "--tokenizer-dir", str(REPO / "models" / "default"), "--out", str(root / "model"),
                            "--name", "dry", "--no-full-logits"], cwd=REPO, check=True, capture_output=True)
            self.assertTrue((root / "model" / "model.onnx").exists())


# --- Issue 11b: the exported head stays on the WebGPU execution provider ---------------------------------------------

from models.recipe import webgpu_ops  # noqa: E402


class WebGpuOpsTest(unittest.TestCase):
    """webgpu_ops.py: new exports hold no op without a WebGPU kernel; old graphs are rewritten to equal outputs."""

    @classmethod
    def setUpClass(cls):
        import torch
        from models.recipe.export import PositionsHead
        from models.recipe.model import DiffusionEncoder, ModelConfig
        cls.torch = torch
        torch.manual_seed(5)
        cls.model = DiffusionEncoder(ModelConfig(vocab_size=300, layers=1, hidden=32, heads=2, max_length=64),
                                     mask_id=MASK_ID).eval()
        cls.tmp = Path(tempfile.mkdtemp())

        def old_head(input_ids, positions, k):  # models/recipe/model.py before issue 11b
            m = cls.model
            h = m.hidden_states(input_ids)
            rows = torch.gather(h, 1, positions.unsqueeze(-1).expand(-1, -1, h.shape[-1]))
            logits = m.project(rows).float()
            is_mask = torch.arange(logits.shape[-1], device=logits.device) == m.mask_id
            logits = torch.where(is_mask, torch.full_like(logits, -1e9), logits)
            logp = torch.log_softmax(logits, dim=-1)
            probs = logp.exp()
            entropy = -(probs * logp).sum(-1)
            topk_probs, topk_ids = torch.topk(probs, k, dim=-1)
            return topk_ids, topk_probs, entropy

        class OldHead(PositionsHead):
            def forward(self, input_ids, positions):
                return old_head(input_ids, positions, self.k)

        cls.ids = torch.randint(3, 300, (2, 24))
        cls.ids[:, 5:12] = MASK_ID
        cls.pos = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 0], [11, 10, 9, 8, 7, 6, 5, 23]])
        for name, module in (("new", PositionsHead(cls.model, 4)), ("old", OldHead(cls.model, 4))):
            torch.onnx.export(module, (cls.ids[:1, :16], cls.pos[:1, :3]), str(cls.tmp / f"{name}.onnx"),
                              opset_version=17, input_names=["input_ids", "positions"],
                              output_names=["topk_ids", "topk_probs", "entropy"],
                              dynamic_axes={"input_ids": {0: "b", 1: "L"}, "positions": {0: "b", 1: "n"}},
                              do_constant_folding=False)

    def test_recipe_export_is_clean_and_rewrite_is_a_no_op(self):
        import onnx
        model = onnx.load(str(self.tmp / "new.onnx"))
        self.assertEqual(webgpu_ops.missing_webgpu_ops(model), [])
        self.assertEqual(webgpu_ops.rewrite(model), {"LogSoftmax": 0, "ConstantOfShape": 0, "Range/Equal": 0})
        self.assertEqual([n.op_type for n in model.graph.node].count("Range"), 1)  # rotary positions (float) only

    def test_old_graph_is_rewritten_with_equal_outputs(self):
        import onnx
        old = self.tmp / "old.onnx"
        with self.assertRaisesRegex(RuntimeError, r"no WebGPU kernel for ConstantOfShape .*LogSoftmax"):
            webgpu_ops.assert_webgpu_ops(old)
        fixed = self.tmp / "fixed.onnx"
        shutil.copyfile(old, fixed)
        self.assertEqual(webgpu_ops.rewrite_file(fixed), {"LogSoftmax": 1, "ConstantOfShape": 1, "Range/Equal": 1})
        webgpu_ops.assert_webgpu_ops(fixed)
        graph = onnx.load(str(fixed))
        onnx.checker.check_model(graph)
        ops = [n.op_type for n in graph.graph.node]
        self.assertEqual(ops.count("Range"), 1)  # the mask-token row (int64 Range -> Equal) is a constant now
        self.assertEqual(webgpu_ops.rewrite(graph), {"LogSoftmax": 0, "ConstantOfShape": 0, "Range/Equal": 0})
        # The written-out log-softmax of model.py equals torch's within float rounding.
        x = self.torch.randn(3, 5, 300) * 20
        from models.recipe.model import log_softmax
        self.assertLess((log_softmax(x) - self.torch.log_softmax(x, -1)).abs().max().item(), 1e-5)
        node = shutil.which("node")
        if node is None:
            self.skipTest("node not installed: ONNX Runtime comparison skipped")
        feeds = self.tmp / "feeds.json"
        feeds.write_text(json.dumps({"input_ids": self.ids.tolist(), "positions": self.pos.tolist()}))
        outs = {}
        for name in ("old", "fixed", "new"):
            r = subprocess.run([node, str(REPO / "models" / "export" / "ort_check.mjs"), str(self.tmp / f"{name}.onnx"),
                                str(feeds)], capture_output=True, text=True, cwd=REPO, timeout=120, check=True)
            outs[name] = json.loads(r.stdout)
        for name in ("fixed", "new"):
            self.assertEqual(outs[name]["topk_ids"]["data"], outs["old"]["topk_ids"]["data"], name)
            for out, tol in (("topk_probs", 1e-6), ("entropy", 1e-5)):
                diff = np.abs(np.array(outs[name][out]["data"]) - np.array(outs["old"][out]["data"])).max()
                self.assertLess(diff, tol, f"{name} {out}")
