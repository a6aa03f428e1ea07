"""Exporter tests: safetensors I/O, the bidirectional Qwen2/LLaMA module, ONNX Runtime vs PyTorch parity on
tiny random-weight checkpoints in the real Hugging Face layouts, the logit shift, and error messages.

    /usr/bin/python3 -m unittest discover -s test/python -p 'test_*.py'

The tiny exported models are left in test-artifacts/exported/ (see models/export/tiny.py) for the Node tests
(test/unit/exported-models.test.ts) and for running the engine on them by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

from models.export import tiny  # noqa: E402
from models.export.checkpoint import ConversionError, inspect_checkpoint, load_state_dict  # noqa: E402
from models.export.convert import convert  # noqa: E402
from models.export.modeling import ArchConfig, DiffusionLM, FullLogits, PositionsTopK  # noqa: E402
from models.export.safetensors_io import Checkpoint, SafetensorsFile, save_file, save_sharded  # noqa: E402

ARTIFACTS = os.path.join(ROOT, "test-artifacts", "exported")
NODE = shutil.which("node")
ORT_CHECK = os.path.join(ROOT, "models", "export", "ort_check.mjs")
FP32_TOL = 1e-4
FP16_COMPUTE_TOL = 5e-3  # float16 activations inside the matmuls
FP16_LOGITS_TOL = 2e-2  # float16 logits: one ulp at |x| in [8, 16) is 7.8e-3
# int4: the reference module holds the same dequantised weights and ORT's MatMulNBits (accuracy_level 0)
# dequantises to float32, so only summation order differs: fp32 tolerance.
INT4_TOL = FP32_TOL
# int8: the reference holds the dequantised weights AND rounds each quantised layer's input the way
# DynamicQuantizeLinear does (modeling.simulate_int8_activations); left: float summation order, and an
# activation landing on the other side of a rounding boundary (one uint8 step) now and then.
INT8_PROB_TOL = 1e-3
INT8_LOGITS_TOL = 1e-2


def run_ort(onnx_path: str, feeds: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(feeds, f)
        inputs = f.name
    try:
        r = subprocess.run([NODE, ORT_CHECK, onnx_path, inputs], capture_output=True, text=True, cwd=ROOT, timeout=120)
    finally:
        os.unlink(inputs)
    if r.returncode != 0:
        raise AssertionError(f"ort_check failed for {onnx_path}: {r.stderr}")
    out = json.loads(r.stdout)
    arrays = {}
    for name in out["_outputs"]:
        data = [-math.inf if v is None else v for v in out[name]["data"]]
        arrays[name] = np.array(data).reshape(out[name]["dims"])
    return arrays


def _nulls_to_inf(x) -> np.ndarray:
    arr = np.array(x, dtype=object)
    return np.where(arr == None, -np.inf, arr).astype(np.float64)  # noqa: E711


def naive_reference(sd: dict, cfg: ArchConfig, ids: torch.Tensor) -> torch.Tensor:
    """An independent, loop-per-head transcription of Hugging Face's Qwen2/LLaMA forward (repeat_kv, rotate_half),
    with the causal mask removed. Used to check the exported module's maths, not its code."""
    b, length = ids.shape
    d = cfg.head_dim
    x = sd["model.embed_tokens.weight"][ids]
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = torch.outer(torch.arange(length, dtype=torch.float64), inv)
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos().float(), emb.sin().float()

    def rms(v, w):
        return w * v / torch.sqrt(v.pow(2).mean(-1, keepdim=True) + cfg.rms_norm_eps)

    def rot(v):
        return torch.cat([-v[..., d // 2 :], v[..., : d // 2]], -1)

    def lin(v, name):
        out = v @ sd[name + ".weight"].T
        if name + ".bias" in sd:
            out = out + sd[name + ".bias"]
        return out

    for i in range(cfg.num_layers):
        p = f"model.layers.{i}."
        h = rms(x, sd[p + "input_layernorm.weight"])
        q = lin(h, p + "self_attn.q_proj").view(b, length, cfg.num_heads, d).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(b, length, cfg.num_kv_heads, d).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(b, length, cfg.num_kv_heads, d).transpose(1, 2)
        if p + "self_attn.q_norm.weight" in sd:  # Qwen3: RMSNorm of each head's q and k, before RoPE
            q = rms(q, sd[p + "self_attn.q_norm.weight"])
            k = rms(k, sd[p + "self_attn.k_norm.weight"])
        q = q * cos + rot(q) * sin
        k = k * cos + rot(k) * sin
        groups = cfg.num_heads // cfg.num_kv_heads
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        heads = []
        for head in range(cfg.num_heads):
            att = torch.softmax(q[:, head] @ k[:, head].transpose(-1, -2) / math.sqrt(d), -1)
            heads.append(att @ v[:, head])
        o = torch.stack(heads, 1).transpose(1, 2).reshape(b, length, cfg.num_heads * d)
        x = x + lin(o, p + "self_attn.o_proj")
        h = rms(x, sd[p + "post_attention_layernorm.weight"])
        gate = lin(h, p + "mlp.gate_proj")
        x = x + lin(gate * torch.sigmoid(gate) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms(x, sd["model.norm.weight"])
    head_w = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
    return x @ head_w.T


def small_arch(**over) -> ArchConfig:
    base = dict(vocab_size=40, hidden_size=24, num_layers=2, num_heads=6, num_kv_heads=2, intermediate_size=40,
                rope_theta=10000.0, rms_norm_eps=1e-6, qkv_bias=True, tie_word_embeddings=False)  # fmt: skip
    base.update(over)
    return ArchConfig(**base)


def random_module(cfg: ArchConfig, seed: int = 0) -> DiffusionLM:
    torch.manual_seed(seed)
    lm = DiffusionLM(cfg).eval()
    with torch.no_grad():
        for p in lm.parameters():
            p.copy_(torch.randn_like(p) * (0.5 if p.dim() > 1 else 0.1) + (1.0 if p.dim() == 1 else 0.0))
    return lm


class SafetensorsTests(unittest.TestCase):
    def test_round_trip_f32_f16_bf16(self):
        rng = np.random.default_rng(0)
        tensors = {"a.weight": rng.standard_normal((3, 5)).astype(np.float32), "b": rng.standard_normal(7).astype(np.float32)}
        with tempfile.TemporaryDirectory() as d:
            for dtype, tol in (("F32", 0), ("F16", 1e-3), ("BF16", 1e-2)):
                path = os.path.join(d, f"{dtype}.safetensors")
                save_file(tensors, path, dtype=dtype)
                f = SafetensorsFile(path)
                self.assertEqual(sorted(f.keys()), ["a.weight", "b"])
                self.assertEqual(f.info("a.weight"), (dtype, (3, 5)))
                for name, want in tensors.items():
                    got = f.get(name)
                    self.assertEqual(got.dtype, np.float32)
                    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
                # header length (8 bytes LE) + JSON header + data, data 8-byte aligned
                with open(path, "rb") as fh:
                    n = int.from_bytes(fh.read(8), "little")
                    header = json.loads(fh.read(n))
                self.assertEqual(n % 8, 0)
                self.assertEqual(header["a.weight"]["data_offsets"][1] - header["a.weight"]["data_offsets"][0],
                                 15 * {"F32": 4, "F16": 2, "BF16": 2}[dtype])  # fmt: skip

    def test_bf16_values_are_exact_when_representable(self):
        values = np.array([1.0, -2.5, 0.15625, 3.0e38, -0.0], dtype=np.float32)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.safetensors")
            save_file({"x": values}, path, dtype="BF16")
            got = SafetensorsFile(path).get("x")
            np.testing.assert_array_equal(got[:3], values[:3])
            self.assertAlmostEqual(float(got[3]) / 3.0e38, 1.0, places=2)

    def test_sharded_checkpoint_and_index(self):
        tensors = {f"t{i}": np.full((2, 2), i, np.float32) for i in range(5)}
        with tempfile.TemporaryDirectory() as d:
            files = save_sharded(tensors, d, shards=3)
            self.assertEqual(files[0], "model-00001-of-00003.safetensors")
            ck = Checkpoint(d)
            self.assertEqual(sorted(ck.keys()), sorted(tensors))
            np.testing.assert_array_equal(ck.get("t4"), tensors["t4"])
            os.remove(os.path.join(d, files[1]))
            with self.assertRaisesRegex(Exception, "model-00002-of-00003.safetensors"):
                Checkpoint(d)

    def test_truncated_file_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.safetensors")
            with open(path, "wb") as f:
                f.write(b"\x01\x02")
            with self.assertRaisesRegex(Exception, "truncated"):
                SafetensorsFile(path)


class ModelingTests(unittest.TestCase):
    def test_matches_independent_reference_qwen2_gqa(self):
        cfg = small_arch()
        lm = random_module(cfg)
        ids = torch.randint(0, cfg.vocab_size, (2, 9))
        with torch.no_grad():
            got = lm(ids)
            want = naive_reference(dict(lm.state_dict()), cfg, ids)
        diff = (got - want).abs().max().item()
        print(f"\n  module vs independent reference (qwen2-like, GQA 6/2): max abs diff {diff:.2e}")
        self.assertLess(diff, 1e-4)

    def test_matches_independent_reference_llama_tied_no_bias(self):
        cfg = small_arch(qkv_bias=False, tie_word_embeddings=True, num_kv_heads=6, rope_theta=500000.0)
        lm = random_module(cfg, seed=1)
        ids = torch.randint(0, cfg.vocab_size, (1, 7))
        with torch.no_grad():
            sd = dict(lm.state_dict())
            diff = (lm(ids) - naive_reference(sd, cfg, ids)).abs().max().item()
        self.assertNotIn("lm_head.weight", sd)
        self.assertLess(diff, 1e-4)

    def test_matches_independent_reference_qwen3_qk_norm_head_dim(self):
        cfg = small_arch(qkv_bias=False, qk_norm=True, head_dim=10, tie_word_embeddings=True)
        lm = random_module(cfg, seed=4)
        ids = torch.randint(0, cfg.vocab_size, (2, 9))
        with torch.no_grad():
            got = lm(ids)
            want = naive_reference(dict(lm.state_dict()), cfg, ids)
        diff = float((got - want).abs().max())
        print(f"\n  module vs independent reference (qwen3-like, head_dim 10, q/k norm): max abs diff {diff:.2e}")
        self.assertLess(diff, 1e-4)
        self.assertIn("model.layers.0.self_attn.q_norm.weight", lm.state_dict())

    def test_attention_is_bidirectional(self):
        cfg = small_arch()
        lm = random_module(cfg)
        ids = torch.randint(0, cfg.vocab_size, (1, 8))
        changed = ids.clone()
        changed[0, 7] = (ids[0, 7] + 1) % cfg.vocab_size
        with torch.no_grad():
            a, b = lm(ids), lm(changed)
        # the LAST token changes the FIRST row: no causal mask
        self.assertGreater((a[0, 0] - b[0, 0]).abs().max().item(), 1e-4)

    def test_positions_head_equals_full_logits_rows_and_never_predicts_mask(self):
        cfg = small_arch()
        lm = random_module(cfg)
        mask = 5
        head, full = PositionsTopK(lm, mask, 6), FullLogits(lm, mask)
        ids = torch.randint(0, cfg.vocab_size, (2, 10))
        pos = torch.tensor([[0, 9, 3], [4, 4, 1]])
        with torch.no_grad():
            topk_ids, topk_probs, entropy = head(ids, pos)
            logits = full(ids)
        for bi in range(2):
            for j in range(3):
                row = logits[bi, pos[bi, j]]
                self.assertEqual(row[mask].item(), float("-inf"))
                p = torch.softmax(row.double(), -1)
                want_h = -(p[p > 0] * p[p > 0].log()).sum().item()
                self.assertAlmostEqual(entropy[bi, j].item(), want_h, places=4)
                top = torch.topk(p, 6)
                self.assertTrue(torch.equal(topk_ids[bi, j], top.indices))
                self.assertLess((topk_probs[bi, j].double() - top.values).abs().max().item(), 1e-6)
        self.assertFalse((topk_ids == mask).any().item())


@unittest.skipIf(NODE is None, "node is not on PATH (ONNX Runtime runs in Node here)")
class ExportParityTests(unittest.TestCase):
    """Builds every tiny variant into test-artifacts/exported and compares ONNX Runtime with PyTorch."""

    models: dict = {}

    @classmethod
    def setUpClass(cls):
        with redirect_stdout(io.StringIO()):
            cls.models = tiny.build_all(ARTIFACTS)

    def manifest(self, name):
        with open(os.path.join(self.models[name], "model.json"), encoding="utf-8") as f:
            return json.load(f)

    def reference(self, name):
        with open(os.path.join(self.models[name], "reference.json"), encoding="utf-8") as f:
            return json.load(f)

    def check_parity(self, name, tol=FP32_TOL, logits_tol=None):
        folder, manifest, ref = self.models[name], self.manifest(name), self.reference(name)
        worst = {"topk_probs": 0.0, "entropy": 0.0, "logits": 0.0}
        for case in ref["cases"]:
            feeds = {"input_ids": case["input_ids"], "positions": case["positions"]}
            got = run_ort(os.path.join(folder, manifest["onnx"]), feeds)
            self.assertEqual(list(got), ["topk_ids", "topk_probs", "entropy"])
            probs = np.array(case["topk_probs"])
            worst["topk_probs"] = max(worst["topk_probs"], float(np.abs(got["topk_probs"] - probs).max()))
            worst["entropy"] = max(worst["entropy"], float(np.abs(got["entropy"] - np.array(case["entropy"])).max()))
            # ids must agree wherever the probabilities are distinguishable (ties may order differently)
            ids = np.array(case["topk_ids"])
            k = ids.shape[-1]
            for idx in np.ndindex(*ids.shape[:2]):
                for j in range(k):
                    p = probs[idx][j]
                    neighbours = [abs(p - probs[idx][t]) for t in range(k) if t != j]
                    if min(neighbours + [1.0]) > tol and j < k - 1:
                        self.assertEqual(got["topk_ids"][idx][j], ids[idx][j], f"{name} {idx} rank {j}")
            self.assertFalse((got["topk_ids"] == ref["mask"]).any(), "mask token predicted")
            full = run_ort(os.path.join(folder, manifest["onnx_full_logits"]), {"input_ids": case["input_ids"]})
            want = _nulls_to_inf(case["logits"])
            self.assertEqual(full["logits"].shape, want.shape)
            self.assertTrue(np.array_equal(np.isneginf(full["logits"]), np.isneginf(want)))
            self.assertTrue(np.isneginf(full["logits"][..., ref["mask"]]).all())
            finite = np.isfinite(want)
            worst["logits"] = max(worst["logits"], float(np.abs(full["logits"][finite] - want[finite]).max()))
        print(f"\n  {name}: ORT vs PyTorch max abs diff: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
        for key, value in worst.items():
            self.assertLess(value, logits_tol if key == "logits" and logits_tol else tol, f"{name}: {key}")
        return worst

    def test_dream_family_bf16_shards_untied(self):
        self.check_parity("dream-tiny")
        m = self.manifest("dream-tiny")
        self.assertEqual(m["logit_shift"], "shifted")
        self.assertEqual(m["special_tokens"], {"mask": 260, "pad": 256, "end": 256, "eos": 256, "bos": 259})
        self.assertEqual(m["vocab_size"], 261)  # config says 268: padding rows trimmed to the tokenizer
        self.assertEqual(m["export"]["source_vocab_size"], 268)

    def test_opendcoder_qwen2_tied_fp16_weights(self):
        self.check_parity("opendcoder-tiny")  # reference uses the fp16-rounded weights
        m = self.manifest("opendcoder-tiny")
        self.assertEqual(m["logit_shift"], "shifted")
        self.assertEqual(m["special_tokens"]["mask"], 260)  # from tokenizer_config.json only
        model = onnx.load(os.path.join(self.models["opendcoder-tiny"], m["onnx"]))
        types = {t.name: t.data_type for t in model.graph.initializer}
        self.assertTrue(types and all(v == onnx.TensorProto.FLOAT16 for k, v in types.items() if k.endswith("__fp16")))
        self.assertIn("model.embed_tokens.weight__fp16", types)
        self.assertNotIn("lm_head.weight__fp16", types)  # tied
        casts = [n for n in model.graph.node if n.op_type == "Cast" and n.input[0].endswith("__fp16")]
        self.assertEqual(len(casts), len([k for k in types if k.endswith("__fp16")]))

    def test_dream_fp16_compute_graph(self):
        """--fp16-compute: float16 weights read directly by float16 matmuls; norms/softmax/head maths in float32."""
        self.check_parity("dream-fp16c", tol=FP16_COMPUTE_TOL, logits_tol=FP16_LOGITS_TOL)
        m = self.manifest("dream-fp16c")
        model = onnx.load(os.path.join(self.models["dream-fp16c"], m["onnx"]))
        self.assertTrue(all(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer))
        by_name = {t.name for t in model.graph.initializer}
        self.assertIn("model.layers.0.self_attn.q_proj.weight", by_name)  # no __fp16 alias: read as is
        self.assertIn("model.norm.weight__fp16", by_name)  # norm weights are cast up for float32 maths
        mm = [n for n in model.graph.node if n.op_type == "MatMul" and "model.layers.0.mlp.up_proj.weight" in n.input]
        self.assertEqual(len(mm), 1)
        self.assertEqual(m["export"]["weights"], "float16, float16 matmuls (GPU)")

    def test_llada_names_unshifted(self):
        self.check_parity("llada-tiny")
        m = self.manifest("llada-tiny")
        self.assertEqual(m["logit_shift"], "none")
        self.assertEqual(m["special_tokens"], {"mask": 259, "pad": 257, "end": 257, "eos": 257, "bos": 256})

    def test_qwen3_a2d_tied_qk_norm_head_dim(self):
        self.check_parity("qwen3-tiny")
        m = self.manifest("qwen3-tiny")
        self.assertEqual(m["architecture"]["family"], "qwen3")
        self.assertEqual(m["logit_shift"], "none")  # a2d-*: dllm's MDLM trainer default right_shift_logits=False
        self.assertEqual(m["special_tokens"]["mask"], 259)  # <|mask|> from tokenizer_config.json
        self.assertEqual(m["special_tokens"]["end"], 258)  # eos <|im_end|> from config eos_token_id
        names = {i.name for i in onnx.load(os.path.join(self.models["qwen3-tiny"], "model.onnx")).graph.initializer}
        self.assertIn("model.layers.1.self_attn.q_norm.weight", names)
        self.assertNotIn("lm_head.weight", names)  # tied

    def test_qwen3_untied_fp16(self):
        self.check_parity("qwen3-untied-fp16", logits_tol=FP32_TOL)
        self.assertEqual(self.manifest("qwen3-untied-fp16")["export"]["dtype"], "fp16")

    def test_qwen25_coder_a2d_via_qwen2_path(self):
        self.check_parity("a2d-qwen2-tiny")
        m = self.manifest("a2d-qwen2-tiny")
        self.assertEqual((m["architecture"]["family"], m["logit_shift"]), ("qwen2", "none"))

    def test_every_family_int4_matmulnbits(self):
        for family in ["dream", "qwen3", "a2d-qwen2", "llada", "llama"]:
            name = f"{family}-int4"
            self.check_parity(name, tol=INT4_TOL)
            m = self.manifest(name)
            self.assertEqual(m["export"]["dtype"], "int4")
            self.assertEqual(m["export"]["quantized_tensors"], 7 * m["architecture"]["layers"])
            model = onnx.load(os.path.join(self.models[name], m["onnx"]), load_external_data=False)
            ops = [n.op_type for n in model.graph.node]
            self.assertEqual(ops.count("MatMulNBits"), 7 * m["architecture"]["layers"], name)

    def test_every_family_int8_dynamic(self):
        for family in ["dream", "qwen3", "a2d-qwen2", "llada", "llama"]:
            name = f"{family}-int8"
            self.check_parity(name, tol=INT8_PROB_TOL, logits_tol=INT8_LOGITS_TOL)
            m = self.manifest(name)
            model = onnx.load(os.path.join(self.models[name], m["onnx"]), load_external_data=False)
            ops = [n.op_type for n in model.graph.node]
            self.assertEqual(ops.count("MatMulInteger"), 7 * m["architecture"]["layers"], name)
            int8 = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
            self.assertEqual(len(int8), 7 * m["architecture"]["layers"])

    def test_llama_external_data(self):
        self.check_parity("llama-tiny")
        m = self.manifest("llama-tiny")
        folder = self.models["llama-tiny"]
        self.assertEqual(m["export"]["external_data"], "model.onnx.data")
        self.assertTrue(os.path.isfile(os.path.join(folder, "model.onnx.data")))
        model = onnx.load(os.path.join(folder, "model.onnx"), load_external_data=False)
        self.assertTrue(all(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer))
        self.assertEqual(m["top_k"], 5)
        self.assertEqual(m["architecture"]["kv_heads"], 2)

    def test_manifest_contract(self):
        for name in self.models:
            m = self.manifest(name)
            folder = self.models[name]
            self.assertEqual(m["format"], "diffusion-infill/1")
            self.assertEqual(m["output_kind"], "positions_topk")
            for key in ("onnx", "onnx_full_logits", "tokenizer"):
                self.assertTrue(os.path.isfile(os.path.join(folder, m[key])), f"{name}: {key}")
            with open(os.path.join(folder, m["tokenizer"]), encoding="utf-8") as f:
                tok = json.load(f)
            n = len(set(tok["model"]["vocab"].values()) | {t["id"] for t in tok["added_tokens"]})
            self.assertEqual(m["vocab_size"], n, name)
            model = onnx.load(os.path.join(folder, m["onnx"]), load_external_data=False)
            self.assertEqual([i.name for i in model.graph.input], ["input_ids", "positions"])
            self.assertEqual([o.name for o in model.graph.output], ["topk_ids", "topk_probs", "entropy"])
            self.assertEqual(model.opset_import[0].version, 17)
            self.assertTrue(all(i.type.tensor_type.elem_type == onnx.TensorProto.INT64 for i in model.graph.input))
            dims = [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
            self.assertEqual(dims, ["batch", "length"])

    def test_lm_head_projects_only_requested_rows(self):
        """The MatMul onto the vocabulary consumes the gathered rows, not the whole sequence."""
        m = self.manifest("dream-tiny")
        model = onnx.load(os.path.join(self.models["dream-tiny"], m["onnx"]))
        producers = {o: n for n in model.graph.node for o in n.output}
        head = [n for n in model.graph.node if n.op_type == "MatMul" and "lm_head.weight" in n.input]
        self.assertEqual(len(head), 1)
        # walk back from the head's activations input: a GatherElements must come before any layer op
        seen, frontier = set(), [head[0].input[0]]
        found_gather = False
        while frontier:
            name = frontier.pop()
            node = producers.get(name)
            if node is None or name in seen:
                continue
            seen.add(name)
            if node.op_type == "GatherElements":
                found_gather = True
                continue
            frontier.extend(node.input)
        self.assertTrue(found_gather)

    def test_shifted_prediction_for_position_i_comes_from_row_i_minus_1(self):
        """dream-chain: row r predicts the letter after token r. With the manifest's `shifted` convention the engine
        reads position i from row i-1, so the masked position right after 'z' gets 'a' and a masked position after
        a masked one gets nothing certain. Reading row i instead (the unshifted mistake) would be uniform."""
        self.check_parity("dream-chain")
        m, ref = self.manifest("dream-chain"), self.reference("dream-chain")
        self.assertEqual(m["logit_shift"], "shifted")
        case = ref["cases"][0]
        ids = case["input_ids"][0]  # "abcxyz" + 4 masks + "q "
        length = len(ids)
        feeds = {"input_ids": [ids], "positions": [list(range(length))]}
        got = run_ort(os.path.join(self.models["dream-chain"], m["onnx"]), feeds)

        def predict_position(i):  # what the engine does for a shifted model (src/engine/shift.ts)
            row = i - 1 if m["logit_shift"] == "shifted" else i
            return int(got["topk_ids"][0, row, 0]), float(got["topk_probs"][0, row, 0])

        for i in range(1, 6):  # positions 1..5 are predicted from the letter before them
            token, p = predict_position(i)
            self.assertEqual(chr(token), ref["chain"][chr(ids[i - 1])])
            self.assertGreater(p, 0.99)
        token, p = predict_position(6)  # first mask, right after 'z'
        self.assertEqual(chr(token), "a")
        self.assertGreater(p, 0.99)
        self.assertLess(predict_position(7)[1], 0.01)  # after a mask: uniform
        self.assertLess(float(got["topk_probs"][0, 6, 0]), 0.01)  # row 6 itself (unshifted reading) is the mask's row
        self.assertAlmostEqual(float(got["entropy"][0, 6]), math.log(m["vocab_size"] - 1), places=3)


class ErrorTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.ckpt = os.path.join(self.tmp, "ckpt")
        tiny.write_dream(self.ckpt)
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def convert_quiet(self, **kw):
        return convert(self.ckpt, self.out, log=lambda _m: None, **kw)

    def edit_config(self, **changes):
        path = os.path.join(self.ckpt, "config.json")
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        for k, v in changes.items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = v
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)

    def test_missing_config(self):
        os.remove(os.path.join(self.ckpt, "config.json"))
        with self.assertRaisesRegex(ConversionError, "missing config.json.*config.json"):
            self.convert_quiet()

    def test_unknown_architecture(self):
        self.edit_config(model_type="mamba", architectures=["MambaForCausalLM"])
        with self.assertRaisesRegex(ConversionError, "unsupported architecture: model_type 'mamba'"):
            self.convert_quiet()

    def test_missing_tokenizer(self):
        os.remove(os.path.join(self.ckpt, "tokenizer.json"))
        with self.assertRaisesRegex(ConversionError, "missing tokenizer.json"):
            self.convert_quiet()

    def test_missing_weights(self):
        for f in os.listdir(self.ckpt):
            if f.endswith(".safetensors") or f.endswith(".index.json"):
                os.remove(os.path.join(self.ckpt, f))
        open(os.path.join(self.ckpt, "pytorch_model.bin"), "wb").close()
        with self.assertRaisesRegex(ConversionError, "missing model.safetensors or model.safetensors.index.json.*pytorch_model.bin"):
            self.convert_quiet()

    def test_missing_shard(self):
        os.remove(os.path.join(self.ckpt, "model-00002-of-00002.safetensors"))
        with self.assertRaisesRegex(ConversionError, "model-00002-of-00002.safetensors"):
            self.convert_quiet()

    def test_missing_tensor(self):
        self.edit_config(num_hidden_layers=3)
        with self.assertRaisesRegex(ConversionError, "missing tensor.*model.layers.2"):
            self.convert_quiet()

    def test_missing_config_field(self):
        self.edit_config(hidden_size=None)
        with self.assertRaisesRegex(ConversionError, "config.json: missing field 'hidden_size'"):
            self.convert_quiet()

    def test_no_mask_token(self):
        self.edit_config(mask_token_id=None)
        with open(os.path.join(self.ckpt, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump({"eos_token": "<|endoftext|>"}, f)
        tok_path = os.path.join(self.ckpt, "tokenizer.json")
        with open(tok_path, encoding="utf-8") as f:
            tok = json.load(f)
        for t in tok["added_tokens"]:
            if t["content"] == "<|mask|>":
                t["content"] = "<|something|>"
        with open(tok_path, "w", encoding="utf-8") as f:
            json.dump(tok, f)
        with self.assertRaisesRegex(ConversionError, "no mask token.*--mask-token"):
            self.convert_quiet()
        manifest = self.convert_quiet(mask_token="<|something|>")  # the override fixes it
        self.assertEqual(manifest["special_tokens"]["mask"], 260)

    def test_block_diffusion_refused_by_name_type_or_field(self):
        cases = [
            {"model_type": "sdar"},
            {"architectures": ["Fast_dLLM_QwenForCausalLM"]},
            {"model_type": "llada2_moe"},
            {"_name_or_path": "dllm-collection/Qwen3-0.6B-diffusion-bd3lm-v0.1"},
            {"block_size": 32},
        ]
        for change in cases:
            tiny.write_dream(self.ckpt)
            self.edit_config(**change)
            with self.assertRaisesRegex(ConversionError, "block-diffusion.*never sees the text after the hole") as cm:
                self.convert_quiet()
            self.assertEqual(cm.exception.kind, "block", change)
        bd = os.path.join(self.tmp, "Qwen3-0.6B-diffusion-bd3lm-v0.1")
        tiny.write_qwen3(bd)
        with self.assertRaisesRegex(ConversionError, "block-diffusion"):
            convert(bd, self.out, log=lambda _m: None)
        self.assertFalse(os.path.exists(self.out))

    def test_pickle_is_refused_and_never_unpickled(self):
        for f in os.listdir(self.ckpt):
            if f.endswith(".safetensors") or f.endswith(".index.json"):
                os.remove(os.path.join(self.ckpt, f))
        marker = os.path.join(self.tmp, "unpickled")

        class Evil:
            def __reduce__(self):
                return (open, (marker, "w"))

        import pickle

        with open(os.path.join(self.ckpt, "pytorch_model.bin"), "wb") as f:
            pickle.dump(Evil(), f)
        with self.assertRaisesRegex(ConversionError, "pickle.*never opened") as cm:
            self.convert_quiet()
        self.assertEqual(cm.exception.kind, "pickle")
        self.assertFalse(os.path.exists(marker))

    def test_truncated_shard(self):
        shard = os.path.join(self.ckpt, "model-00002-of-00002.safetensors")
        size = os.path.getsize(shard)
        with open(shard, "r+b") as f:
            f.truncate(size - 100)
        with self.assertRaisesRegex(ConversionError, "truncated shard.*interrupted download") as cm:
            self.convert_quiet()
        self.assertEqual(cm.exception.kind, "shard")

    def test_absurd_config_sizes(self):
        for field, value in [("hidden_size", 10**7), ("num_hidden_layers", 100000), ("vocab_size", 10**9),
                             ("intermediate_size", -5)]:  # fmt: skip
            tiny.write_dream(self.ckpt)
            self.edit_config(**{field: value})
            with self.assertRaisesRegex(ConversionError, "implausible|must be positive") as cm:
                self.convert_quiet()
            self.assertEqual(cm.exception.kind, "config", field)

    def test_tokenizer_model_vocab_mismatch(self):
        self.edit_config(vocab_size=200)  # the tokenizer has 261 tokens
        with self.assertRaisesRegex(ConversionError, "vocabulary mismatch.*belongs to a different model") as cm:
            self.convert_quiet()
        self.assertEqual(cm.exception.kind, "vocab")

    def test_progress_lines_and_no_partial_folder_on_failure(self):
        r = subprocess.run(
            [sys.executable, "-m", "models.export.convert", "--checkpoint", self.ckpt, "--out", self.out,
             "--progress-json", "--dtype", "int4"],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(x[len("@@progress ") :]) for x in r.stdout.splitlines() if x.startswith("@@progress ")]
        total = len(inspect_checkpoint(self.ckpt, open_weights=False).sources)
        self.assertEqual([x["done"] for x in lines], list(range(1, total + 1)))
        self.assertTrue(all(x["total"] == total for x in lines))
        self.assertEqual(lines[-1]["eta_s"], 0.0)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["ckpt", "out"])  # no .partial-* left
        # a failure half-way (a tensor read fails after others were written) leaves neither output nor partial folder
        from models.export import safetensors_io

        saved = safetensors_io.SafetensorsFile.raw
        calls = []

        def failing(self_, n):
            calls.append(n)
            if len(calls) > 5:
                raise OSError(28, "No space left on device")
            return saved(self_, n)

        safetensors_io.SafetensorsFile.raw = failing  # type: ignore[assignment]
        try:
            with self.assertRaises(OSError):
                convert(self.ckpt, os.path.join(self.tmp, "out2"), log=lambda _m: None)
        finally:
            safetensors_io.SafetensorsFile.raw = saved  # type: ignore[assignment]
        self.assertGreater(len(calls), 5)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["ckpt", "out"])

    def test_cli_out_of_disk_and_memory_lines(self):
        from models.export import convert as convert_mod

        for exc, kind in [(OSError(28, "No space left on device"), "disk"), (MemoryError(), "oom")]:
            saved = convert_mod.convert

            def failing(*_a, **_k):
                raise exc

            convert_mod.convert = failing  # type: ignore[assignment]
            buf = io.StringIO()
            try:
                with redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
                    code = convert_mod.main(["--checkpoint", self.ckpt, "--out", self.out, "--progress-json"])
            finally:
                convert_mod.convert = saved  # type: ignore[assignment]
            self.assertEqual(code, 2)
            line = [x for x in buf.getvalue().splitlines() if x.startswith("@@error ")][0]
            self.assertEqual(json.loads(line[len("@@error ") :])["kind"], kind)

    def test_transformers5_rope_parameters(self):
        self.edit_config(rope_theta=None, rope_parameters={"rope_type": "default", "rope_theta": 12345.0})
        self.assertEqual(inspect_checkpoint(self.ckpt, open_weights=False).arch.rope_theta, 12345.0)
        self.edit_config(rope_parameters={"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0})
        with self.assertRaisesRegex(ConversionError, "rope_parameters.*plain RoPE only"):
            self.convert_quiet()

    def test_rope_scaling_rejected(self):
        self.edit_config(rope_scaling={"type": "yarn", "factor": 4.0})
        with self.assertRaisesRegex(ConversionError, "rope_scaling"):
            self.convert_quiet()

    def test_cli_exit_code_and_message(self):
        os.remove(os.path.join(self.ckpt, "tokenizer.json"))
        r = subprocess.run(
            [sys.executable, "-m", "models.export.convert", "--checkpoint", self.ckpt, "--out", self.out],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing tokenizer.json", r.stderr)

    def test_cli_success_and_logit_shift_override(self):
        r = subprocess.run(
            [sys.executable, "-m", "models.export.convert", "--checkpoint", self.ckpt, "--out", self.out,
             "--top-k", "3", "--max-length", "128", "--name", "x", "--logit-shift", "none"],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.out, "model.json"), encoding="utf-8") as f:
            m = json.load(f)
        self.assertEqual((m["name"], m["top_k"], m["max_length"], m["logit_shift"]), ("x", 3, 128, "none"))
        self.assertNotIn("onnx_full_logits", m)
        self.assertFalse(os.path.exists(os.path.join(self.out, "model_full_logits.onnx")))


class StreamingTests(unittest.TestCase):
    def test_tracing_never_materialises_the_weights(self):
        """A 1.2 GB (fp32) model traces in a few hundred MB: the placeholders stay zero-stride (no clone by the
        tracer, no contiguous copies for matmuls), which is what lets a 7B model convert on a small machine."""
        code = (
            "import resource, tempfile, os\n"
            "from models.export.modeling import ArchConfig\n"
            "from models.export.onnx_export import trace_head\n"
            "cfg = ArchConfig(vocab_size=50000, hidden_size=1024, num_layers=8, num_heads=16, num_kv_heads=4,\n"
            "                 intermediate_size=8192, qkv_bias=True)\n"
            "d = tempfile.mkdtemp()\n"
            "trace_head(cfg, 'positions_topk', 3, 8, os.path.join(d, 'g.onnx'))\n"
            "print(cfg.parameter_count() * 4 / 1e9, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)\n"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        weights_gb, peak_gb = map(float, r.stdout.split())
        print(f"\n  tracing a {weights_gb:.2f} GB model: peak RSS {peak_gb:.2f} GB")
        self.assertGreater(weights_gb, 1.0)
        self.assertLess(peak_gb, 0.8)


class StateDictTests(unittest.TestCase):
    def test_llada_names_map_to_module(self):
        with tempfile.TemporaryDirectory() as d:
            tiny.write_llada(d)
            spec = inspect_checkpoint(d)
            self.assertEqual(spec.sources["model.layers.1.mlp.gate_proj.weight"], "model.transformer.blocks.1.ff_proj.weight")
            self.assertEqual(spec.sources["model.layers.1.mlp.down_proj.weight"], "model.transformer.blocks.1.ff_out.weight")
            self.assertEqual(spec.sources["model.layers.0.self_attn.o_proj.weight"], "model.transformer.blocks.0.attn_out.weight")
            self.assertEqual(spec.sources["lm_head.weight"], "model.transformer.ff_out.weight")
            lm = DiffusionLM(spec.arch)
            lm.load_state_dict(load_state_dict(spec), strict=True)


class BenchScriptTests(unittest.TestCase):
    def test_gpu_shapes_cpu_path_with_tiny_shape(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "bench.json")
            r = subprocess.run(
                [sys.executable, os.path.join(ROOT, "bench", "gpu_shapes.py"), "--device", "cpu", "--shapes", "tiny",
                 "--windows", "16,32", "--steps", "2", "--warmup", "1", "--json", out],
                capture_output=True, text=True, cwd=ROOT, timeout=300,
            )  # fmt: skip
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            with open(out, encoding="utf-8") as f:
                result = json.load(f)
            self.assertEqual([row["window"] for row in result["rows"]], [16, 32])
            self.assertTrue(all(row["ms_per_step"] > 0 for row in result["rows"]))


if __name__ == "__main__":
    unittest.main()


class HfReferenceScriptTests(unittest.TestCase):
    """models/export/hf_reference.py (the GPU machine's transformers comparison) minus transformers: our module
    stands in for the reference, which runs the checkpoint layout, conversion, ORT run and comparison."""

    def test_script_with_our_module_as_reference(self):
        from models.export import hf_reference

        tmp = tempfile.mkdtemp()
        try:
            out = os.path.join(tmp, "report.json")
            with redirect_stdout(io.StringIO()):
                code = hf_reference.main(["--out", tmp, "--reference", "ours", "--json", out])
            with open(out, encoding="utf-8") as f:
                report = json.load(f)
            self.assertEqual(code, 0)
            self.assertEqual([r["family"] for r in report["results"]], list(hf_reference.FAMILIES))
            for r in report["results"]:
                self.assertLess(r["max_abs_diff"], hf_reference.TOLERANCE, r)
                self.assertTrue(r["mask_is_minus_inf"])
        finally:
            shutil.rmtree(tmp)

    def test_refuses_to_run_without_transformers(self):
        from models.export import hf_reference

        try:
            import transformers  # noqa: F401

            self.skipTest("transformers is installed")
        except ImportError:
            pass
        with contextlib.redirect_stderr(io.StringIO()) as err:
            self.assertEqual(hf_reference.main(["--out", tempfile.mkdtemp()]), 3)
        self.assertIn("transformers is not installed", err.getvalue())
