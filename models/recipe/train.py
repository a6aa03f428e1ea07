"""Train the masked-diffusion denoiser (CPU or CUDA, same code).

Stops at a token budget (--tokens, equal compute between runs) or a wall-clock budget (--time-budget), whichever
comes first. Checkpoints atomically every --ckpt-minutes and at the end; a rerun with the same --out resumes.
Data order is a pure function of (seed, step), so a resumed run sees exactly the batches an uninterrupted run would.
Log: <out>/log.jsonl with training loss every --log-every steps and validation (loss, masked-token accuracy at 15%
uniform masking, region-infill accuracy) every --val-every steps.

Two data paths, the same corruption modes: --data-path numpy builds examples on the CPU (corrupt.py, optionally in
--workers processes), --data-path torch keeps the packed split on the training device and corrupts whole batches
with tensor ops (corrupt_torch.py; the GPU run). --probe-steps measures tokens/s, the share of step time spent building
batches, and GPU utilisation, and saves nothing. --resume-from continues from a joined checkpoint returned by an
earlier GPU call (its weights, and its optimiser state when it has one) towards a new --tokens total.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import corrupt_torch
from .corrupt import STRUCTURED_MIXTURE, UNIFORM_ONLY, Split, make_batch, region_example, uniform
from .transport import load_split
from .bpe import MASK_ID
from .model import DiffusionEncoder, ModelConfig, count_parameters


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="build/data",
                    help="folder with train.npz and val.npz (models/recipe/pack.py), or a corpus pack .tar.xz "
                         "(models/recipe/transport.py pack), streamed without unpacking")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--tokens", type=float, required=True, help="token budget (batch * seq_len per step)")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="seconds of training in all, across resumed runs; stop and save when reached")
    ap.add_argument("--call-budget", type=float, default=None,
                    help="seconds for this invocation only (a GPU call continuing an earlier run)")
    ap.add_argument("--stop-step", type=int, default=None,
                    help="stop (and save) at this step without changing the schedule: equal compute, interruptions")
    ap.add_argument("--uniform-only", action="store_true", help="ablation baseline: uniform corruption only")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-bf16", action="store_true")
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--val-windows", type=int, default=64)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=0, help="processes building batches ahead (GPU runs)")
    ap.add_argument("--probe-steps", type=int, default=0,
                    help="only measure: run this many steps, print tokens/s, data-wait share and GPU utilisation as "
                         "JSON, save nothing")
    ap.add_argument("--data-path", choices=("numpy", "torch"), default="numpy",
                    help="numpy: corrupt.py on the CPU; torch: corrupt_torch.py on the training device")
    ap.add_argument("--resume-from", default=None,
                    help="checkpoint (transport.py join output or checkpoint.pt) to start from when --out has none")
    ap.add_argument("--compile", action="store_true", help="torch.compile each block (where torch has it)")
    return ap.parse_args(argv)


def load_splits(data: str) -> tuple[Split, Split]:
    if data.endswith(".xz"):
        return load_split(Path(data), "train"), load_split(Path(data), "val")
    return Split.load(Path(data) / "train.npz"), Split.load(Path(data) / "val.npz")


_worker_split: Split | None = None


def _init_worker(data: str) -> None:
    global _worker_split
    _worker_split = load_splits(data)[0]


def _worker_batch(job):
    seed, step, batch, seq_len, mixture = job
    return make_batch(_worker_split, batch, seq_len, np.random.default_rng([seed, step]), mixture)


def batches(args, train_split: Split, first_step: int, total_steps: int, mixture, device=None):
    """Batches for steps first_step.. in order; a pure function of (seed, step) however many workers build them."""
    if args.data_path == "torch":
        on_device = corrupt_torch.DeviceSplit.from_split(train_split, device)
        for step in range(first_step, total_steps):
            g = corrupt_torch.generator_for(args.seed, step, device)
            yield corrupt_torch.make_batch(on_device, args.batch, args.seq_len, g, mixture)
        return
    jobs = ((args.seed, step, args.batch, args.seq_len, mixture) for step in range(first_step, total_steps))
    if args.workers <= 0:
        for seed, step, batch, seq_len, mix in jobs:
            yield make_batch(train_split, batch, seq_len, np.random.default_rng([seed, step]), mix)
        return
    import multiprocessing as mp
    with mp.get_context("fork").Pool(args.workers, initializer=_init_worker, initargs=(args.data,)) as pool:
        yield from pool.imap(_worker_batch, jobs, chunksize=4)


class ProbeMeter:
    """Wall time per step split into building the batch (data) and the rest, with the device synchronised at both
    marks, and GPU utilisation sampled by a thread (torch.cuda.utilization needs pynvml; nvidia-smi otherwise)."""

    def __init__(self, device):
        self.device = device
        self.data_s = self.step_s = 0.0
        self.steps = 0
        self.started = False
        self.samples: list[float] = []
        self.util_source = "n/a"
        self._stop = None

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _read_util(self):
        try:
            return float(torch.cuda.utilization(self.device)), "torch.cuda.utilization"
        except Exception:
            pass
        import shutil
        import subprocess
        if shutil.which("nvidia-smi"):
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout.split()
                return float(out[0]), "nvidia-smi"
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
        return None, "n/a"

    def start(self):
        self._sync()
        self.started, self.t_start = True, time.time()
        self.data_s = self.step_s = 0.0
        self.steps = 0
        if self.device.type == "cuda":
            import threading
            self._stop = threading.Event()

            def sample():
                while not self._stop.wait(0.25):
                    value, self.util_source = self._read_util()
                    if value is None:
                        return
                    self.samples.append(value)
            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()

    def sync_mark(self):
        self._sync()
        self.t0 = time.time()

    def data_done(self):
        self._sync()
        self.t1 = time.time()

    def step_done(self):
        self._sync()
        if self.started:
            self.data_s += self.t1 - self.t0
            self.step_s += time.time() - self.t0
            self.steps += 1

    def report(self, tokens_per_step: int) -> dict:
        if self._stop is not None:
            self._stop.set()
        wall = time.time() - self.t_start
        util = round(sum(self.samples) / len(self.samples), 1) if self.samples else "n/a"
        return {"probe_tokens_per_s": self.steps * tokens_per_step / wall if wall > 0 else 0.0,
                "step_ms": 1000 * self.step_s / max(self.steps, 1), "data_ms": 1000 * self.data_s / max(self.steps, 1),
                "data_wait_share": self.data_s / self.step_s if self.step_s > 0 else 0.0,
                "gpu_utilisation_pct": util, "gpu_utilisation_source": self.util_source if self.samples else "n/a",
                "probe_steps_measured": self.steps}


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def masked_loss(model, inputs, targets, masked, weight, autocast):
    """Weighted cross-entropy at masked positions, normalised by the number of tokens in the batch."""
    with autocast():
        h = model.hidden_states(inputs)
        rows = h[masked]
        logits = model.project(rows).float()
    ce = F.cross_entropy(logits, targets[masked], reduction="none")
    return (ce * weight[masked]).sum() / inputs.numel(), logits, ce


class Validation:
    """Fixed validation windows and masks, so every evaluation of every run is comparable."""

    def __init__(self, split: Split, windows: int, length: int, seed: int):
        rng = np.random.default_rng(seed)
        uni, reg = [], []
        for _ in range(windows):
            start = int(rng.integers(0, split.tokens.size - 2 * length - 1))
            x = split.tokens[start:start + length]
            masked, _ = uniform(x, rng, t=0.15)
            uni.append((np.where(masked, MASK_ID, x), x, masked))
            built = region_example(split.tokens[start:start + 2 * length], start, split, length, rng)
            if built is not None:
                seq, m, _ = built
                m = m | False
                # Evaluate the hardest case the product meets: the whole canvas masked.
                lo, hi = np.flatnonzero(m)[0], np.flatnonzero(m)[-1] + 1
                m[lo:hi] = True
                reg.append((np.where(m, MASK_ID, seq), seq, m))
        self.sets = {"uniform15": uni, "region": reg}

    @torch.no_grad()
    def run(self, model, device, autocast) -> dict:
        model.eval()
        out = {}
        for name, examples in self.sets.items():
            if not examples:
                continue
            inputs = torch.tensor(np.stack([e[0] for e in examples]), device=device)
            targets = torch.tensor(np.stack([e[1] for e in examples]), device=device)
            masked = torch.tensor(np.stack([e[2] for e in examples]), device=device)
            loss_sum, correct, count = 0.0, 0, 0
            for i in range(0, len(examples), 16):
                sl = slice(i, i + 16)
                with autocast():
                    logits = model.project(model.hidden_states(inputs[sl])[masked[sl]]).float()
                tgt = targets[sl][masked[sl]]
                loss_sum += F.cross_entropy(logits, tgt, reduction="sum").item()
                correct += (logits.argmax(-1) == tgt).sum().item()
                count += tgt.numel()
            out[f"val_{name}_loss"] = loss_sum / max(count, 1)
            out[f"val_{name}_acc"] = correct / max(count, 1)
        model.train()
        return out


def save_checkpoint(path: Path, model, optimizer, step: int, tokens: int, elapsed: float, cfg: ModelConfig, args):
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "tokens": tokens,
                "elapsed": elapsed, "config": cfg.to_dict(), "args": vars(args)}, tmp)
    os.replace(tmp, path)


def main(argv=None) -> None:
    args = parse_args(argv)
    if 0 < args.probe_steps < 3:
        sys.exit("error: --probe-steps needs at least 3 (two warm-up steps are not measured)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bf16 = not args.no_bf16

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    train_split, val_split = load_splits(args.data)
    cfg = ModelConfig(vocab_size=args.vocab_size, layers=args.layers, hidden=args.hidden, heads=args.heads,
                      max_length=max(1024, args.seq_len))
    model = DiffusionEncoder(cfg, mask_id=MASK_ID).to(device)
    if args.compile and hasattr(torch, "compile"):
        # Per block, so the module tree and state_dict keys stay those of the eager model (checkpoints, export).
        for block in model.blocks:
            block.forward = torch.compile(block.forward, dynamic=False)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.98))
    tokens_per_step = args.batch * args.seq_len
    total_steps = int(math.ceil(args.tokens / tokens_per_step))
    mixture = UNIFORM_ONLY if args.uniform_only else STRUCTURED_MIXTURE
    validation = Validation(val_split, args.val_windows, args.seq_len, seed=args.seed + 7)

    ckpt = out / "checkpoint.pt"
    step, elapsed_before = 0, 0.0
    rewarm_from = None  # a fresh optimiser on trained weights warms up again, from the resume step
    source = ckpt if ckpt.exists() else (Path(args.resume_from) if args.resume_from else None)
    if source is not None:
        # Checkpoints hold only tensors and plain values, so torch >= 2.6's default weights_only loading reads them;
        # torch 1.13's weights_only unpickler rejects floats, so the default is left to each version.
        state = torch.load(source, map_location=device)
        if state["config"] != cfg.to_dict():
            sys.exit(f"error: {source} has config {state['config']}, this run {cfg.to_dict()}")
        model.load_state_dict(state["model"])
        step, elapsed_before = int(state.get("step") or 0), float(state.get("elapsed") or 0.0)
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        else:
            rewarm_from = step
        if step >= total_steps and source != ckpt:
            sys.exit(f"error: {source} is at step {step}; raise --tokens above {step * tokens_per_step}")
        print(f"resumed from {source} at step {step}" + ("" if "optimizer" in state else " (fresh optimiser)"),
              file=sys.stderr)
    log = open(out / "log.jsonl", "a")

    def emit(record: dict) -> None:
        log.write(json.dumps(record) + "\n")
        log.flush()

    if source is not None and source != ckpt:
        emit({"event": "resume_from", "checkpoint": str(source), "step": step})
    if step == 0 or (source is not None and source != ckpt):
        emit({"event": "start", "config": cfg.to_dict(), "parameters": count_parameters(model),
              "tokens_per_step": tokens_per_step, "total_steps": total_steps,
              "corruption": "uniform-only" if args.uniform_only else "structure-aware mixture",
              "mixture": dict(zip(("uniform", "span", "identifier", "region"), mixture)), "args": vars(args),
              "device": str(device), "torch": torch.__version__})
    start_time = time.time()
    last_ckpt = time.time()
    window_tokens, window_start = 0, time.time()
    model.train()
    if args.probe_steps:
        total_steps = step + args.probe_steps
    stream = batches(args, train_split, step, total_steps, mixture, device)
    probe_start = None
    probe = ProbeMeter(device) if args.probe_steps else None
    while step < total_steps:
        elapsed = elapsed_before + time.time() - start_time
        if args.time_budget is not None and elapsed >= args.time_budget:
            emit({"event": "time_budget_reached", "step": step, "elapsed": elapsed})
            break
        if args.call_budget is not None and time.time() - start_time >= args.call_budget:
            emit({"event": "call_budget_reached", "step": step, "elapsed": elapsed})
            break
        if args.stop_step is not None and step >= args.stop_step:
            emit({"event": "stop_step_reached", "step": step, "elapsed": elapsed})
            break
        if probe is not None and step == total_steps - args.probe_steps + 2:
            probe.start()  # after two warm-up steps
        if probe is not None:
            probe.sync_mark()
        inputs, targets, masked, weight, _ = next(stream)
        inputs_t, targets_t, masked_t, weight_t = (
            torch.as_tensor(a).to(device, non_blocking=True) for a in (inputs, targets, masked, weight))
        if probe is not None:
            probe.data_done()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total_steps, args.lr, args.warmup)
            if rewarm_from is not None:
                group["lr"] *= min(1.0, (step - rewarm_from + 1) / max(1, args.warmup))
        loss, logits, ce = masked_loss(model, inputs_t, targets_t, masked_t, weight_t, autocast)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if probe is not None:
            probe.step_done()
        step += 1
        window_tokens += tokens_per_step
        if step % args.log_every == 0:
            now = time.time()
            acc = (logits.argmax(-1) == targets_t[masked_t]).float().mean().item()
            emit({"step": step, "tokens": step * tokens_per_step, "loss": loss.item(), "ce": ce.mean().item(),
                  "masked_acc": acc, "lr": optimizer.param_groups[0]["lr"],
                  "tok_per_s": window_tokens / (now - window_start), "elapsed": elapsed_before + now - start_time})
            window_tokens, window_start = 0, now
        if step % args.val_every == 0 or step == total_steps:
            emit({"step": step, "tokens": step * tokens_per_step, **validation.run(model, device, autocast),
                  "elapsed": elapsed_before + time.time() - start_time})
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            save_checkpoint(ckpt, model, optimizer, step, step * tokens_per_step,
                            elapsed_before + time.time() - start_time, cfg, args)
            last_ckpt = time.time()
    if args.probe_steps:
        report = probe.report(tokens_per_step)
        print(json.dumps({**report, "parameters": count_parameters(model), "data_path": args.data_path,
                          "batch": args.batch, "seq_len": args.seq_len}))
        log.close()
        return
    elapsed = elapsed_before + time.time() - start_time
    final = validation.run(model, device, autocast)
    save_checkpoint(ckpt, model, optimizer, step, step * tokens_per_step, elapsed, cfg, args)
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "step": step,
                "tokens": step * tokens_per_step, "elapsed": elapsed}, out / "final.pt")
    emit({"event": "done", "step": step, "tokens": step * tokens_per_step, "elapsed": elapsed, **final})
    print(json.dumps({"step": step, "tokens": step * tokens_per_step, "elapsed": round(elapsed, 1), **final}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
