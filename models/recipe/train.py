"""Train the masked-diffusion denoiser (CPU or CUDA, same code).

Stops at a token budget (--tokens, equal compute between runs) or a wall-clock budget (--time-budget), whichever
comes first. Checkpoints atomically every --ckpt-minutes and at the end; a rerun with the same --out resumes.
Data order is a pure function of (seed, step), so a resumed run sees exactly the batches an uninterrupted run would.
Log: <out>/log.jsonl with training loss every --log-every steps and validation (loss, masked-token accuracy at 15%
uniform masking, region-infill accuracy) every --val-every steps.
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
    ap.add_argument("--time-budget", type=float, default=None, help="seconds; stop and save when reached")
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
                    help="only measure: run this many steps, print tokens/s as JSON, save nothing")
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


def batches(args, train_split: Split, first_step: int, total_steps: int, mixture):
    """Batches for steps first_step.. in order; a pure function of (seed, step) however many workers build them."""
    jobs = ((args.seed, step, args.batch, args.seq_len, mixture) for step in range(first_step, total_steps))
    if args.workers <= 0:
        for seed, step, batch, seq_len, mix in jobs:
            yield make_batch(train_split, batch, seq_len, np.random.default_rng([seed, step]), mix)
        return
    import multiprocessing as mp
    with mp.get_context("fork").Pool(args.workers, initializer=_init_worker, initargs=(args.data,)) as pool:
        yield from pool.imap(_worker_batch, jobs, chunksize=4)


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
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_before = state["step"], state["elapsed"]
        print(f"resumed at step {step}", file=sys.stderr)
    log = open(out / "log.jsonl", "a")

    def emit(record: dict) -> None:
        log.write(json.dumps(record) + "\n")
        log.flush()

    if step == 0:
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
    stream = batches(args, train_split, step, total_steps, mixture)
    probe_start = None
    while step < total_steps:
        elapsed = elapsed_before + time.time() - start_time
        if args.time_budget is not None and elapsed >= args.time_budget:
            emit({"event": "time_budget_reached", "step": step, "elapsed": elapsed})
            break
        if args.stop_step is not None and step >= args.stop_step:
            emit({"event": "stop_step_reached", "step": step, "elapsed": elapsed})
            break
        inputs, targets, masked, weight, _ = next(stream)
        if args.probe_steps and step == total_steps - args.probe_steps + 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            probe_start = time.time()  # after two warm-up steps
        inputs_t = torch.tensor(inputs, device=device)
        targets_t = torch.tensor(targets, device=device)
        masked_t = torch.tensor(masked, device=device)
        weight_t = torch.tensor(weight, device=device)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total_steps, args.lr, args.warmup)
        loss, logits, ce = masked_loss(model, inputs_t, targets_t, masked_t, weight_t, autocast)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
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
        if device.type == "cuda":
            torch.cuda.synchronize()
        measured = (args.probe_steps - 2) * tokens_per_step / (time.time() - probe_start)
        print(json.dumps({"probe_tokens_per_s": measured, "parameters": count_parameters(model)}))
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
