#!/usr/bin/env python3
"""PyTorch (CPU) reference for mstar's benchmarks.

Builds the same GPT-2-style decoder as the Swift side (`scripts/mstar bench`) and times it, so the
two numbers can be compared on one machine in one run. Normally run by `scripts/bench/vs-pytorch`,
which also installs torch into `.venv-bench`; by hand:

    .venv-bench/bin/python scripts/bench/torch_ref.py --threads 2 --steps 20 --json

The reference model (must match the Swift side exactly):
  * token embedding [V,C] + learned position embedding [T,C];
  * L pre-norm blocks: x = x + proj(attn(ln1(x))); x = x + fc2(gelu_tanh(fc1(ln2(x))));
    LayerNorm eps 1e-5 with weight and bias; qkv = Linear(C, 3C, bias) split into q, k, v of C
    each, H heads of C/H; causal F.scaled_dot_product_attention; proj Linear(C, C, bias);
    fc1 Linear(C, 4C, bias); GELU(approximate='tanh'); fc2 Linear(4C, C, bias);
  * final LayerNorm, lm head Linear(C, V, bias=False), untied from the embedding;
  * loss: mean cross-entropy over all B*T positions, inputs and targets uniform random ids;
  * init: normal(0, 0.02) for linear and embedding weights, zero biases, LayerNorm weight 1 bias 0;
  * AdamW(lr 3e-4, betas (0.9, 0.95), eps 1e-8, weight_decay 0.1), decay on matrices only
    (linear weights, both embeddings, the head: dim >= 2), none on biases and LayerNorm — the
    default of mstar's AdamW (`decays = params.map { $0.rank >= 2 }`) and of GPT-2/nanoGPT;
    clip_grad_norm_(all params, 1.0) every step.
  * a training step = zero_grad + forward + backward + clip + optimizer.step.

Benchmarks live in BENCHES (name -> function). Each takes (cfg, args) and returns a dict of
metrics that is merged into the one JSON object printed with --json, plus a config section under
"config"[name]. To add one (e.g. the KV-cache sampler: 128 prompts x 16 samples, temperature 1),
write `bench_sample(cfg, args) -> dict`, register it in BENCHES and select it with
`--bench train,sample`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import sys
import time
import warnings

# The CPU wheel runs without NumPy (we never convert to or from arrays); torch only warns.
warnings.filterwarnings("ignore", message=r"Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# --------------------------------------------------------------------------------------------
# Model


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    vocab: int = 256  # V
    d_model: int = 128  # C
    layers: int = 4  # L
    heads: int = 4  # H
    mlp_hidden: int = 512
    seq_len: int = 80  # T
    batch: int = 32  # B
    ln_eps: float = 1e-5
    init_std: float = 0.02


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.d_model
        self.heads = cfg.heads
        self.ln1 = nn.LayerNorm(c, eps=cfg.ln_eps)
        self.qkv = nn.Linear(c, 3 * c, bias=True)
        self.proj = nn.Linear(c, c, bias=True)
        self.ln2 = nn.LayerNorm(c, eps=cfg.ln_eps)
        self.fc1 = nn.Linear(c, cfg.mlp_hidden, bias=True)
        self.gelu = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(cfg.mlp_hidden, c, bias=True)

    def attn(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        h = self.heads
        q, k, v = self.qkv(x).split(c, dim=2)
        # [B, T, C] -> [B, H, T, C/H]
        q = q.view(b, t, h, c // h).transpose(1, 2)
        k = k.view(b, t, h, c // h).transpose(1, 2)
        v = v.view(b, t, h, c // h).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return y.transpose(1, 2).contiguous().view(b, t, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.proj(self.attn(self.ln1(x)))
        x = x + self.fc2(self.gelu(self.fc1(self.ln2(x))))
        return x


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        std = self.cfg.init_std
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=std)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids [B, T] -> logits [B, T, V]."""
        _, t = idx.shape
        pos = torch.arange(t, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self(idx)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def expected_params(cfg: ModelConfig) -> int:
    """Closed form of the parameter count, to cross-check the Swift side's number."""
    c, v, t, m = cfg.d_model, cfg.vocab, cfg.seq_len, cfg.mlp_hidden
    block = (
        2 * c  # ln1
        + 3 * c * c + 3 * c  # qkv
        + c * c + c  # proj
        + 2 * c  # ln2
        + c * m + m  # fc1
        + m * c + c  # fc2
    )
    return v * c + t * c + cfg.layers * block + 2 * c + c * v


# --------------------------------------------------------------------------------------------
# Benchmarks


def random_batch(cfg: ModelConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform random input and target ids [B, T] from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    shape = (cfg.batch, cfg.seq_len)
    inputs = torch.randint(0, cfg.vocab, shape, generator=g, dtype=torch.long)
    targets = torch.randint(0, cfg.vocab, shape, generator=g, dtype=torch.long)
    return inputs, targets


def bench_train(cfg: ModelConfig, args: argparse.Namespace) -> dict:
    """Training-step throughput: warm-up steps, then `steps` timed steps as one interval."""
    torch.manual_seed(args.seed)
    model = GPT(cfg)
    params = count_params(model)
    assert params == expected_params(cfg), (params, expected_params(cfg))
    # Decay matrices only, as mstar's AdamW does by default.
    groups = [
        {"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    inputs, targets = random_batch(cfg, args.seed + 1)
    model.train()

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = model.loss(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()  # syncs nothing on CPU, but keeps the value for the report

    first_loss = step()
    for _ in range(args.warmup - 1):
        step()

    step_s = []
    t0 = time.perf_counter()
    for _ in range(args.steps):
        s0 = time.perf_counter()
        last_loss = step()
        step_s.append(time.perf_counter() - s0)
    seconds = time.perf_counter() - t0

    tokens = cfg.batch * cfg.seq_len * args.steps
    step_s.sort()
    return {
        "train_tokens_per_s": tokens / seconds,
        "params": params,
        "train": {
            "steps": args.steps,
            "warmup": args.warmup,
            "seconds": seconds,
            "step_ms_median": 1e3 * step_s[len(step_s) // 2],
            "step_ms_min": 1e3 * step_s[0],
            "step_ms_max": 1e3 * step_s[-1],
            # Less sensitive to a stray slow step (another process on a 2-core machine):
            "tokens_per_s_median_step": cfg.batch * cfg.seq_len / step_s[len(step_s) // 2],
            "loss_first": first_loss,  # ~ln(256) = 5.545 at init
            "loss_last": last_loss,
            "seed": args.seed,
            "batch": "one fixed random batch, reused every step",
            "optimizer": "AdamW(lr=3e-4, betas=(0.9,0.95), eps=1e-8), weight_decay 0.1 on dim>=2 "
            "params, 0 on biases/LayerNorm; torch defaults (foreach/fused unset); clip_grad_norm_ 1.0",
        },
    }


# name -> function(cfg, args) -> metrics dict. Add "sample" (KV-cache sampler) here later.
BENCHES = {
    "train": bench_train,
}


# --------------------------------------------------------------------------------------------
# Driver


def build_info() -> dict:
    cfg = torch.__config__.show()
    blas = next(
        (part.split("=", 1)[1] for part in cfg.replace(",", "\n").split() if part.startswith("BLAS_INFO=")),
        "unknown",
    )
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # older torch
        capability = "unknown"
    return {"blas": blas, "cpu_capability": capability, "python": platform.python_version()}


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed for init and the random batch")
    p.add_argument(
        "--bench", default="train", help=f"comma-separated benchmarks from {sorted(BENCHES)}"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = p.parse_args(argv)
    if args.threads < 1 or args.steps < 1 or args.warmup < 1:
        p.error("--threads, --steps and --warmup must be >= 1")
    args.bench = [b for b in args.bench.split(",") if b]
    unknown = [b for b in args.bench if b not in BENCHES]
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; have {sorted(BENCHES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = ModelConfig()

    result: dict = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "threads": args.threads,
    }
    config: dict = {"model": dataclasses.asdict(cfg), "dtype": "float32"}
    for name in args.bench:
        metrics = BENCHES[name](cfg, args)
        if name in metrics:
            config[name] = metrics.pop(name)
        result.update(metrics)
    result["peak_rss_mb"] = peak_rss_mb()
    result["torch_threads"] = torch.get_num_threads()
    result["build"] = build_info()
    result["config"] = config

    if args.json:
        print(json.dumps(result, sort_keys=False))
    else:
        print(f"pytorch {result['torch_version']}  threads={args.threads}  "
              f"blas={result['build']['blas']}  cpu={result['build']['cpu_capability']}")
        print(f"params:             {result['params']:,}")
        if "train_tokens_per_s" in result:
            t = config["train"]
            print(f"train tokens/s:     {result['train_tokens_per_s']:.1f}  "
                  f"({t['steps']} steps in {t['seconds']:.2f} s, median step {t['step_ms_median']:.1f} ms, "
                  f"loss {t['loss_first']:.3f} -> {t['loss_last']:.3f})")
        print(f"peak RSS:           {result['peak_rss_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
