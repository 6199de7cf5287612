#!/usr/bin/env python3
"""PyTorch (CPU) reference for mstar's benchmarks.

Builds the same models as the Swift side (`scripts/mstar bench`) — the GPT-2-style reference
decoder (bench "train") and the vision-language policy (benches "sft" and "sample") — and times
them, so the numbers can be compared on one machine in one run. Normally run by
`scripts/bench/vs-pytorch`, which also installs torch into `.venv-bench`; by hand:

    .venv-bench/bin/python scripts/bench/torch_ref.py --threads 2 --steps 20 --json [--bench sft,sample]

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

The policy replica (`VisionLanguageModel` below; bench "sft" and "sample") is mstar's
`VisionLanguageModel(ModelConfig(vocab: Tokenizer.standard.vocabSize))` with every default
(Sources/MSTaRModel/{ModelConfig,VisionEncoder,VisionLanguageModel,TransformerBlock}.swift):
  * images [B, 32, 48] grey in [0, 1]; convolutional stem: per channel count (16, then 32) a 3x3
    convolution with padding 1 and bias, GELU-tanh, 2x2 max pooling -> an 8x12 grid of 32 channels
    (mstar runs each convolution as unfold + one GEMM, channels last; here nn.Conv2d, NCHW: same
    FLOPs); the cells are put in merge-square order (the 2x2 cells of each square adjacent);
  * Linear(32, 64) per cell + a learned row embedding [8, 64] + a learned column embedding [12, 64];
  * 2 non-causal pre-LN blocks (width 64, 2 heads, MLP 128, GELU-tanh), as the GPT block above;
  * final LayerNorm(64); 2x2 merge = reshape [B, 96, 64] -> [B, 24, 256]; projector
    Linear(256, 128) -> GELU-tanh -> Linear(128, 128); a global token, the mean of the 24, first:
    25 image tokens;
  * the language model: token embedding [251, 128] + learned positions [72, 128] on the TEXT only
    (image tokens get none); [25 image tokens, text] through 4 causal pre-LN blocks (width 128,
    4 heads, MLP 512); final LayerNorm on the text positions; head tied to the token embedding;
  * a score head Linear(128, 1) (mstar's PRM head) that exists, counts in the total, but is not a
    policy parameter: `policy_params` leaves it out, `policy_params_with_score_head` includes it;
  * init as mstar: N(0, 0.02) linears and embeddings, attention and MLP output projections
    N(0, 0.02 / sqrt(2 * depth)), convolutions Kaiming normal, the cell projection N(0, 1/sqrt(32)).
  * sft: one update of SFTTrainer = zero_grad + forward + cross-entropy over the response positions
    only (mean over them) + backward + clip_grad_norm_(policy params, 1.0) + AdamW(lr 3e-4,
    betas (0.9, 0.98), eps 1e-8, weight_decay 0.01 on dim >= 2 params), on a fixed batch of 32
    random scenes and sequences of prompt 12 + response 37 random tokens, i.e. 48 text positions
    fed (SequenceBatch drops the last token), 37 of them with a target. sft_tokens_per_s counts
    all 32 * 48 text positions.
  * sample: Sampler.generate — 128 prompts (random scene, 12 random tokens), 16 samples each,
    temperature 1, no top-p, exactly 32 new tokens (no stop at <eos>), chunks of at most 512
    sequences (32 prompts); per prompt, its prefix (vision encoder + prompt) is run alone, once,
    and its keys/values are shared by its 16 samples; generated tokens get per-sample cache rows.
    Caches are preallocated per layer, head-major (what attention reads without copying; a
    [.., time, 128] layout measured ~10% slower decoding): [prompts, 4, 37, 32] for the shared
    prefixes and [sequences, 4, 32, 32] for generated tokens. Every step computes log-softmax,
    entropy and the sampled token's log-probability (as mstar's `pick`) and draws with
    torch.multinomial(softmax(logits / T)). sample_tokens_per_s = 128*16*32 / s; the warm-up is
    the first 8 prompts, as in mstar's bench.
    Before timing, the cached decoder is checked against full forward passes (`kv_check_max_abs`).

Benchmarks live in BENCHES (name -> function). Each takes (cfg, args) and returns a dict of
metrics that is merged into the one JSON object printed with --json, plus a config section under
"config"[name]. `--bench` takes a comma-separated list or "all" (the default). With more than one
bench, each runs in its own child process (this script again), so that each bench's peak RSS
(`<name>_peak_rss_mb`) is its own; top-level `peak_rss_mb` is the largest. `--in-process` runs them
in this process instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

# The CPU wheel runs without NumPy (we never convert to or from arrays); torch only warns.
warnings.filterwarnings("ignore", message=r"Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Peak RSS once torch is imported (what every bench's peak includes), in MB.
_RSS_AFTER_IMPORT_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


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
    """Pre-norm transformer block (mstar's TransformerBlock with LayerNorm and the GELU MLP)."""

    def __init__(self, d_model: int, heads: int, mlp_hidden: int, ln_eps: float = 1e-5, causal: bool = True):
        super().__init__()
        c = d_model
        self.heads = heads
        self.causal = causal
        self.ln1 = nn.LayerNorm(c, eps=ln_eps)
        self.qkv = nn.Linear(c, 3 * c, bias=True)
        self.proj = nn.Linear(c, c, bias=True)
        self.ln2 = nn.LayerNorm(c, eps=ln_eps)
        self.fc1 = nn.Linear(c, mlp_hidden, bias=True)
        self.gelu = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(mlp_hidden, c, bias=True)

    def attend(self, qkv: torch.Tensor) -> torch.Tensor:
        """Packed q|k|v [B, T, 3C] -> merged heads [B, T, C] (mstar's fused `selfAttention`)."""
        b, t, c3 = qkv.shape
        c, h = c3 // 3, self.heads
        q, k, v = qkv.split(c, dim=2)
        # [B, T, C] -> [B, H, T, C/H]
        q = q.view(b, t, h, c // h).transpose(1, 2)
        k = k.view(b, t, h, c // h).transpose(1, 2)
        v = v.view(b, t, h, c // h).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return y.transpose(1, 2).contiguous().view(b, t, c)

    def attn(self, x: torch.Tensor) -> torch.Tensor:
        return self.attend(self.qkv(x))

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.gelu(self.fc1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.proj(self.attn(self.ln1(x)))
        x = x + self.mlp(self.ln2(x))
        return x


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(
            Block(cfg.d_model, cfg.heads, cfg.mlp_hidden, cfg.ln_eps) for _ in range(cfg.layers)
        )
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
# The policy: mstar's VisionLanguageModel with the default ModelConfig


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
    """mstar's `ModelConfig(vocab: Tokenizer.standard.vocabSize)`: every other field at its default."""

    vocab: int = 251  # 5 special tokens + the numbers 0...199 + 14 step words + 32 question words
    image_height: int = 32
    image_width: int = 48
    patch: int = 4  # grid stride: the stem's two 2x2 poolings
    stem_channels: tuple[int, ...] = (16, 32)
    global_token: bool = True
    merge: int = 2
    vision_dim: int = 64
    vision_layers: int = 2
    vision_heads: int = 2
    vision_mlp: int = 128
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    mlp_hidden: int = 512
    max_text: int = 72
    ln_eps: float = 1e-5

    @property
    def grid_height(self) -> int:
        return self.image_height // self.patch

    @property
    def grid_width(self) -> int:
        return self.image_width // self.patch

    @property
    def merged_tokens(self) -> int:
        return (self.grid_height // self.merge) * (self.grid_width // self.merge)

    @property
    def image_tokens(self) -> int:
        return self.merged_tokens + (1 if self.global_token else 0)

    @property
    def max_seq(self) -> int:
        return self.image_tokens + self.max_text

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stem_channels"] = list(self.stem_channels)
        d.update(grid=[self.grid_height, self.grid_width], image_tokens=self.image_tokens, max_seq=self.max_seq)
        return d


def _init_block(blk: Block, depth: int) -> None:
    """TransformerBlock's init: N(0, 0.02) linears, output projections N(0, 0.02/sqrt(2*depth))."""
    for lin, std in ((blk.qkv, 0.02), (blk.proj, 0.02 / (2 * depth) ** 0.5),
                     (blk.fc1, 0.02), (blk.fc2, 0.02 / (2 * depth) ** 0.5)):
        nn.init.normal_(lin.weight, 0.0, std)
        nn.init.zeros_(lin.bias)
    for ln in (blk.ln1, blk.ln2):
        nn.init.ones_(ln.weight)
        nn.init.zeros_(ln.bias)


class VisionEncoder(nn.Module):
    """Sources/MSTaRModel/VisionEncoder.swift with `stem == .conv`: images [B, H, W] -> [B, 25, 128]."""

    def __init__(self, pc: PolicyConfig):
        super().__init__()
        assert pc.patch == 4 and len(pc.stem_channels) == 2, "the convolutional stem needs patch 4 and two channel counts"
        self.pc = pc
        d, m = pc.vision_dim, pc.merge
        self.stem = nn.ModuleList()
        in_c = 1
        for out_c in pc.stem_channels:
            conv = nn.Conv2d(in_c, out_c, 3, padding=1, bias=True)
            nn.init.normal_(conv.weight, 0.0, (2 / (9 * in_c)) ** 0.5)  # Init.kaimingNormal([out, 9*in])
            nn.init.zeros_(conv.bias)
            self.stem.append(conv)
            in_c = out_c
        self.gelu = nn.GELU(approximate="tanh")
        self.patch = nn.Linear(in_c, d)
        nn.init.normal_(self.patch.weight, 0.0, 1 / in_c**0.5)
        nn.init.zeros_(self.patch.bias)
        self.row_pos = nn.Parameter(torch.randn(pc.grid_height, d) * 0.02)
        self.col_pos = nn.Parameter(torch.randn(pc.grid_width, d) * 0.02)
        self.blocks = nn.ModuleList(
            Block(d, pc.vision_heads, pc.vision_mlp, pc.ln_eps, causal=False) for _ in range(pc.vision_layers)
        )
        for blk in self.blocks:
            _init_block(blk, pc.vision_layers)
        self.norm = nn.LayerNorm(d, eps=pc.ln_eps)
        self.projector = nn.Sequential(
            nn.Linear(d * m * m, pc.d_model), nn.GELU(approximate="tanh"), nn.Linear(pc.d_model, pc.d_model)
        )
        for lin in (self.projector[0], self.projector[2]):
            nn.init.normal_(lin.weight, 0.0, 0.02)
            nn.init.zeros_(lin.bias)
        # Row and column of each grid cell in merge-square order (`patchCoordinates`).
        rows, cols = [], []
        for mr in range(pc.grid_height // m):
            for mc in range(pc.grid_width // m):
                for r in range(m):
                    for q in range(m):
                        rows.append(mr * m + r)
                        cols.append(mc * m + q)
        self.register_buffer("rows", torch.tensor(rows, dtype=torch.long), persistent=False)
        self.register_buffer("cols", torch.tensor(cols, dtype=torch.long), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pc, b = self.pc, images.shape[0]
        gh, gw, m = pc.grid_height, pc.grid_width, pc.merge
        x = images.view(b, 1, pc.image_height, pc.image_width)
        for conv in self.stem:
            x = F.max_pool2d(self.gelu(conv(x)), 2)
        ch = x.shape[1]
        # [B, ch, gh, gw] -> cells in merge-square order, channels last: [B, gh*gw, ch].
        x = x.view(b, ch, gh // m, m, gw // m, m).permute(0, 2, 4, 3, 5, 1).reshape(b, gh * gw, ch)
        x = self.patch(x) + (self.row_pos[self.rows] + self.col_pos[self.cols])
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        tokens = self.projector(x.reshape(b, pc.merged_tokens, pc.vision_dim * m * m))
        if not pc.global_token:
            return tokens
        return torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)


class VisionLanguageModel(nn.Module):
    """Sources/MSTaRModel/VisionLanguageModel.swift: the vision prefix + a decoder-only LM."""

    def __init__(self, pc: PolicyConfig):
        super().__init__()
        self.pc = pc
        c = pc.d_model
        self.vision = VisionEncoder(pc)
        self.wte = nn.Embedding(pc.vocab, c)
        nn.init.normal_(self.wte.weight, 0.0, 0.02)
        self.wpe = nn.Parameter(torch.randn(pc.max_text, c) * 0.02)  # text positions only
        self.blocks = nn.ModuleList(Block(c, pc.heads, pc.mlp_hidden, pc.ln_eps) for _ in range(pc.layers))
        for blk in self.blocks:
            _init_block(blk, pc.layers)
        self.ln_f = nn.LayerNorm(c, eps=pc.ln_eps)
        # The PRM's score head: a parameter of the model, not of the policy (SFT does not train it).
        self.score = nn.Linear(c, 1)
        nn.init.normal_(self.score.weight, 0.0, 0.02)
        nn.init.zeros_(self.score.bias)

    def policy_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("score.")]

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.wte.weight)  # tied head

    def hidden(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """images [B, H, W], tokens [B, T] -> final hidden states of the text positions [B, T, C]."""
        t = tokens.shape[1]
        assert t <= self.pc.max_text
        prefix = self.vision(images)
        text = self.wte(tokens) + self.wpe[:t]
        x = torch.cat([prefix, text], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x[:, self.pc.image_tokens:])

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits [B, T, vocab] at every text position."""
        return self.head(self.hidden(images, tokens))


def expected_policy_params(pc: PolicyConfig) -> tuple[int, int]:
    """Closed form: (policy parameters, policy + score head), from the Swift shapes."""

    def block(c: int, h: int) -> int:
        return 2 * c + 3 * c * c + 3 * c + c * c + c + 2 * c + c * h + h + h * c + c

    d, c, m = pc.vision_dim, pc.d_model, pc.merge
    stem, in_c = 0, 1
    for out_c in pc.stem_channels:
        stem += out_c * 9 * in_c + out_c
        in_c = out_c
    vision = (
        stem
        + in_c * d + d  # patch
        + (pc.grid_height + pc.grid_width) * d  # row and column positions
        + pc.vision_layers * block(d, pc.vision_mlp)
        + 2 * d  # norm
        + d * m * m * c + c + c * c + c  # projector
    )
    lm = pc.vocab * c + pc.max_text * c + pc.layers * block(c, pc.mlp_hidden) + 2 * c
    policy = vision + lm
    return policy, policy + c + 1


# --------------------------------------------------------------------------------------------
# KV-cache sampling, as Sources/MSTaRModel/Sampler.swift


class KVSampler:
    """Sampler.generate: per prompt a prefill run alone, whose keys/values (per layer
    [prompts, H, maxPrefix, hs]) all its k samples share; generated tokens get per-sample cache rows
    (per layer [sequences, H, maxNew, hs]); decoding in chunks of at most `chunk` sequences."""

    def __init__(self, model: VisionLanguageModel, chunk: int = 512):
        self.model = model
        self.pc = model.pc
        self.chunk = chunk

    @torch.inference_mode()
    def generate(self, images: torch.Tensor, prompts: list[torch.Tensor], k: int, new_tokens: int,
                 temperature: float = 1.0, generator: torch.Generator | None = None,
                 timings: dict | None = None, trace: list | None = None) -> dict:
        """images [P, H, W], prompts: P id tensors. Returns tokens / log_probs [P*k, new] and the
        mean entropy [P*k]; sequence s is sample s % k of prompt s // k."""
        per_chunk = max(1, self.chunk // k)
        outs = []
        for start in range(0, len(prompts), per_chunk):
            end = min(len(prompts), start + per_chunk)
            outs.append(self._chunk(images[start:end], prompts[start:end], k, new_tokens, temperature,
                                    generator, timings, trace))
        return {key: torch.cat([o[key] for o in outs]) for key in outs[0]}

    def _prefill(self, image: torch.Tensor, prompt: torch.Tensor, keys: list[torch.Tensor],
                 values: list[torch.Tensor]) -> torch.Tensor:
        """One prompt's prefix alone: fills keys/values [H, L, hs] per layer, returns last-position logits."""
        m, c, h = self.model, self.pc.d_model, self.pc.heads
        lp = prompt.shape[0]
        text = m.wte(prompt.view(1, lp)) + m.wpe[:lp]
        x = torch.cat([m.vision(image.unsqueeze(0)), text], dim=1)  # [1, L, C]
        length = x.shape[1]
        for l, blk in enumerate(m.blocks):
            qkv = blk.qkv(blk.ln1(x))
            keys[l][:, :length] = qkv[0, :, c:2 * c].view(length, h, c // h).transpose(0, 1)
            values[l][:, :length] = qkv[0, :, 2 * c:].view(length, h, c // h).transpose(0, 1)
            x = x + blk.proj(blk.attend(qkv))
            x = x + blk.mlp(blk.ln2(x))
        return m.head(m.ln_f(x[0, length - 1]))

    @staticmethod
    def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None):
        """Sampler.pick on every row: (token, log pi(token), entropy of pi), pi at temperature 1."""
        logp = torch.log_softmax(logits, dim=-1)
        entropy = -(logp.exp() * logp).sum(dim=-1)
        if temperature > 0:
            probs = torch.softmax(logits / temperature, dim=-1)
            tok = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        else:
            tok = logits.argmax(dim=-1)
        return tok, logp.gather(1, tok.unsqueeze(1)).squeeze(1), entropy

    def _chunk(self, images, prompts, k, new_tokens, temperature, generator, timings, trace) -> dict:
        m, pc = self.model, self.pc
        c, n_layers, h = pc.d_model, pc.layers, pc.heads
        hs = c // h
        n_p = len(prompts)
        n = n_p * k
        t0 = time.perf_counter()
        prompt_len = torch.tensor([p.shape[0] for p in prompts])
        assert int(prompt_len.min()) >= 1 and int(prompt_len.max()) < pc.max_text
        prefix_len = prompt_len + pc.image_tokens
        max_prefix = int(prefix_len.max())
        # Caches, preallocated per layer, head-major (the layout attention reads without copies):
        # the shared prefixes [prompts, H, maxPrefix, hs] ...
        prefix_k = [torch.empty(n_p, h, max_prefix, hs) for _ in range(n_layers)]
        prefix_v = [torch.empty(n_p, h, max_prefix, hs) for _ in range(n_layers)]
        first = torch.empty(n_p, pc.vocab)
        for i, p in enumerate(prompts):
            first[i] = self._prefill(images[i], p, [t[i] for t in prefix_k], [t[i] for t in prefix_v])
        # Prompts of different lengths: mask each one's unused prefix rows (none in the benchmark).
        pad_mask = None
        if int(prefix_len.min()) != max_prefix:
            pad_mask = (torch.arange(max_prefix) >= prefix_len[:, None]).view(n_p, 1, 1, max_prefix)
        t1 = time.perf_counter()

        # ... and the generated tokens [sequences, H, maxNew, hs].
        max_new = max(1, min(new_tokens, pc.max_seq - max_prefix))
        gen_k = [torch.empty(n, h, max_new, hs) for _ in range(n_layers)]
        gen_v = [torch.empty(n, h, max_new, hs) for _ in range(n_layers)]
        tokens = torch.empty(n, max_new, dtype=torch.long)
        log_probs = torch.empty(n, max_new)
        entropy = torch.zeros(n)
        text_pos0 = prompt_len.repeat_interleave(k)  # text position of the first generated token
        scale = 1.0 / hs**0.5
        logits = first.repeat_interleave(k, dim=0)
        for g in range(max_new):
            if trace is not None:
                trace.append(logits.clone())
            tok, lp, ent = self._pick(logits, temperature, generator)
            tokens[:, g], log_probs[:, g] = tok, lp
            entropy += ent
            if g + 1 == max_new:  # no stop at <eos>: every sequence makes exactly max_new tokens
                break
            # Sampler.decode: feed token g at text position prompt_len + g.
            glen = g + 1
            x = m.wte(tok) + m.wpe[text_pos0 + g]  # [n, C]
            for l, blk in enumerate(m.blocks):
                qkv = blk.qkv(blk.ln1(x)).view(n, 3, h, hs)
                gen_k[l][:, :, g] = qkv[:, 1]
                gen_v[l][:, :, g] = qkv[:, 2]
                # Scores over the prompt's shared prefix, its k samples' queries together: [P, H, k, maxPrefix].
                qh = qkv[:, 0].reshape(n_p, k, h, hs).transpose(1, 2)
                s_pre = torch.matmul(qh, prefix_k[l].transpose(2, 3)).mul_(scale)
                if pad_mask is not None:
                    s_pre.masked_fill_(pad_mask, float("-inf"))
                # Scores over each sample's own generated tokens: [n, H, 1, g+1] -> [P, H, k, g+1].
                q1 = qkv[:, 0].unsqueeze(2)  # [n, H, 1, hs]
                s_gen = torch.matmul(q1, gen_k[l][:, :, :glen].transpose(2, 3)).mul_(scale)
                s_gen = s_gen.view(n_p, k, h, glen).transpose(1, 2)
                probs = torch.softmax(torch.cat([s_pre, s_gen], dim=-1), dim=-1)
                p_pre, p_gen = probs.split([max_prefix, glen], dim=-1)
                out = torch.matmul(p_pre, prefix_v[l]).transpose(1, 2).reshape(n, h, 1, hs)
                p_gen = p_gen.transpose(1, 2).reshape(n, h, 1, glen)
                out = out + torch.matmul(p_gen, gen_v[l][:, :, :glen])  # [n, H, 1, hs]
                x = x + blk.proj(out.reshape(n, c))
                x = x + blk.mlp(blk.ln2(x))
            logits = m.head(m.ln_f(x))
        t2 = time.perf_counter()
        if timings is not None:
            timings.setdefault("prefill_s", []).append(t1 - t0)
            timings.setdefault("decode_s", []).append(t2 - t1)
        return {"tokens": tokens, "log_probs": log_probs, "mean_entropy": entropy / max_new}


def check_kv_cache(model: VisionLanguageModel, seed: int) -> float:
    """Largest |logit difference| between the cached decoder and full forward passes, on 3 prompts
    (of different lengths, to exercise the prefix mask) x 2 samples x 6 tokens."""
    pc = model.pc
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(3, pc.image_height, pc.image_width, generator=g)
    prompts = [torch.randint(5, pc.vocab, (n,), generator=g) for n in (12, 7, 12)]
    k, new = 2, 6
    trace: list = []
    out = KVSampler(model, chunk=4).generate(images, prompts, k, new, generator=g, trace=trace)
    worst = 0.0
    with torch.inference_mode():
        for s in range(len(prompts) * k):
            p = s // k
            chunk_start = (p // 2) * 2  # chunk=4, k=2: 2 prompts a chunk
            row = s - chunk_start * k
            seq = torch.cat([prompts[p], out["tokens"][s, :new - 1]])
            full = model(images[p:p + 1], seq.unsqueeze(0))[0, prompts[p].shape[0] - 1:]  # [new, V]
            cached = torch.stack([trace[(p // 2) * new + step][row] for step in range(new)])
            worst = max(worst, (full - cached).abs().max().item())
    return worst


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


def _adamw_matrices_only(params: list[nn.Parameter], lr: float, betas: tuple[float, float], wd: float):
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": wd},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8)


def _policy(args: argparse.Namespace) -> tuple[PolicyConfig, VisionLanguageModel, int, int]:
    pc = PolicyConfig()
    torch.manual_seed(args.seed)
    model = VisionLanguageModel(pc)
    policy = sum(p.numel() for p in model.policy_parameters())
    total = count_params(model)
    assert (policy, total) == expected_policy_params(pc), ((policy, total), expected_policy_params(pc))
    return pc, model, policy, total


def bench_sft(cfg: ModelConfig, args: argparse.Namespace) -> dict:
    """One SFTTrainer.update of the policy per step: warm-up steps, then `steps` timed steps."""
    pc, model, policy_params, total_params = _policy(args)
    batch, prompt_len, response_len = 32, 12, 37
    g = torch.Generator().manual_seed(args.seed + 2)
    images = torch.rand(batch, pc.image_height, pc.image_width, generator=g)
    full = torch.randint(5, pc.vocab, (batch, prompt_len + response_len), generator=g)
    # SequenceBatch: tokens full[:-1]; position j's target is full[j+1] if that is a response token.
    tokens = full[:, :-1].contiguous()
    targets = full[:, 1:].clone()
    targets[:, : prompt_len - 1] = -1
    length = tokens.shape[1]  # 48 text positions
    target_count = int((targets >= 0).sum())
    params = model.policy_parameters()
    opt = _adamw_matrices_only(params, 3e-4, (0.9, 0.98), 0.01)
    model.train()

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        logits = model(images, tokens)
        loss = F.cross_entropy(logits.view(-1, pc.vocab), targets.view(-1), ignore_index=-1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

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
    step_s.sort()
    positions = batch * length
    return {
        "sft_tokens_per_s": positions * args.steps / seconds,
        "sft_token_count": "text positions",
        "policy_params": policy_params,
        "policy_params_with_score_head": total_params,
        "sft": {
            "steps": args.steps,
            "warmup": args.warmup,
            "seconds": seconds,
            "batch": batch,
            "text_length": length,
            "sequence": f"prompt {prompt_len} + response {response_len} random ids in [5, {pc.vocab}); "
            "the last id is only a target",
            "tokens_per_step": positions,
            "target_positions_per_step": target_count,
            "sequence_length_in_model": pc.image_tokens + length,
            "step_ms_median": 1e3 * step_s[len(step_s) // 2],
            "step_ms_min": 1e3 * step_s[0],
            "step_ms_max": 1e3 * step_s[-1],
            "tokens_per_s_median_step": positions / step_s[len(step_s) // 2],
            "loss_first": first_loss,  # ~ln(251) = 5.525 at init
            "loss_last": last_loss,
            "seed": args.seed,
            "data": "one fixed random batch (images U[0,1), ids uniform), reused every step",
            "optimizer": "AdamW(lr=3e-4, betas=(0.9,0.98), eps=1e-8), weight_decay 0.01 on dim>=2 policy "
            "params, 0 on biases/LayerNorm; clip_grad_norm_ 1.0 over the policy params",
        },
    }


def bench_sample(cfg: ModelConfig, args: argparse.Namespace) -> dict:
    """KV-cache sampling of 128 prompts x 16 samples x 32 tokens, after a check and a warm-up."""
    pc, model, policy_params, total_params = _policy(args)
    model.eval()
    n_prompts, k, prompt_len, new_tokens, temperature, chunk = 128, 16, 12, 32, 1.0, 512
    kv_diff = check_kv_cache(model, args.seed + 5)
    assert kv_diff < 1e-3, f"KV-cache decoding disagrees with the full forward pass by {kv_diff}"
    g = torch.Generator().manual_seed(args.seed + 3)
    images = torch.rand(n_prompts, pc.image_height, pc.image_width, generator=g)
    prompts = list(torch.randint(5, pc.vocab, (n_prompts, prompt_len), generator=g).unbind(0))
    sampler = KVSampler(model, chunk=chunk)
    gen = torch.Generator().manual_seed(args.seed + 4)
    # Warm-up as mstar's bench: the first 8 prompts.
    sampler.generate(images[:8], prompts[:8], k, new_tokens, temperature, gen)
    timings: dict = {}
    t0 = time.perf_counter()
    out = sampler.generate(images, prompts, k, new_tokens, temperature, gen, timings=timings)
    seconds = time.perf_counter() - t0
    generated = out["tokens"].numel()
    assert generated == n_prompts * k * new_tokens, generated
    return {
        "sample_tokens_per_s": generated / seconds,
        "policy_params": policy_params,
        "policy_params_with_score_head": total_params,
        "sample": {
            "prompts": n_prompts,
            "k": k,
            "prompt_tokens": prompt_len,
            "new_tokens": new_tokens,
            "generated_tokens": generated,
            "temperature": temperature,
            "top_p": 1.0,
            "chunk": chunk,
            "chunks": len(timings["decode_s"]),
            "seconds": seconds,
            "prefill_s": sum(timings["prefill_s"]),
            "decode_s": sum(timings["decode_s"]),
            "chunk_s": [a + b for a, b in zip(timings["prefill_s"], timings["decode_s"])],
            "mean_entropy": out["mean_entropy"].mean().item(),  # ~ln(251) = 5.525 at init
            "kv_check_max_abs": kv_diff,
            "seed": args.seed,
            "mode": "eager, torch.inference_mode; prefill per prompt alone (batch 1), shared by its k samples; "
            "per-layer head-major caches [prompts, H, prefix, hs] + [sequences, H, new, hs]; torch.multinomial",
        },
    }


# name -> function(cfg, args) -> metrics dict (its config section under the bench's own name).
BENCHES = {
    "train": bench_train,
    "sft": bench_sft,
    "sample": bench_sample,
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
    p.add_argument("--steps", type=int, default=20, help="timed train/sft steps (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed for init and the random data")
    p.add_argument(
        "--bench", default="all", help=f"comma-separated benchmarks from {sorted(BENCHES)}, or all (default)"
    )
    p.add_argument("--in-process", action="store_true",
                   help="run several benchmarks in this process (default: one child process each)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = p.parse_args(argv)
    if args.threads < 1 or args.steps < 1 or args.warmup < 1:
        p.error("--threads, --steps and --warmup must be >= 1")
    names = [b for b in args.bench.split(",") if b]
    args.bench = list(BENCHES) if names == ["all"] else names
    unknown = [b for b in args.bench if b not in BENCHES]
    if unknown or not args.bench:
        p.error(f"unknown benchmark(s) {unknown}; have {sorted(BENCHES)} or all")
    return args


def run_child(name: str, args: argparse.Namespace) -> dict:
    """This script with `--bench name --json` in a fresh process: the result object."""
    cmd = [sys.executable, os.path.abspath(__file__), "--json", "--bench", name, "--threads", str(args.threads),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"torch_ref.py: bench {name} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = ModelConfig()

    result: dict = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "threads": args.threads,
    }
    config: dict = {"model": dataclasses.asdict(cfg), "policy": PolicyConfig().as_dict(), "dtype": "float32"}
    isolate = len(args.bench) > 1 and not args.in_process
    rss: dict[str, float] = {}
    for name in args.bench:
        if isolate:
            child = run_child(name, args)
            config[name] = child["config"][name]
            rss[name] = child["peak_rss_mb"]
            metrics = {key: child[key] for key in child
                       if key not in result
                       and key not in ("config", "build", "torch_threads", "peak_rss_mb", "peak_rss_scope", "rss_after_import_mb")
                       and not key.endswith("_peak_rss_mb")}
        else:
            metrics = BENCHES[name](cfg, args)
            config[name] = metrics.pop(name)
            rss[name] = peak_rss_mb()  # this process so far (the benches before this one included)
        result.update(metrics)
        result[f"{name}_peak_rss_mb"] = rss[name]
    result["peak_rss_mb"] = max(rss.values())
    result["peak_rss_scope"] = "each bench in its own process" if isolate else "one process, cumulative"
    result["rss_after_import_mb"] = _RSS_AFTER_IMPORT_MB
    result["torch_threads"] = torch.get_num_threads()
    result["build"] = build_info()
    result["config"] = config

    if args.json:
        print(json.dumps(result, sort_keys=False))
    else:
        print(f"pytorch {result['torch_version']}  threads={args.threads}  "
              f"blas={result['build']['blas']}  cpu={result['build']['cpu_capability']}")
        if "params" in result:
            print(f"params (GPT):       {result['params']:,}")
        if "policy_params" in result:
            print(f"policy params:      {result['policy_params']:,} "
                  f"({result['policy_params_with_score_head']:,} with the score head)")
        if "train_tokens_per_s" in result:
            t = config["train"]
            print(f"train tokens/s:     {result['train_tokens_per_s']:.1f}  "
                  f"({t['steps']} steps in {t['seconds']:.2f} s, median step {t['step_ms_median']:.1f} ms, "
                  f"loss {t['loss_first']:.3f} -> {t['loss_last']:.3f}; peak RSS {rss['train']:.0f} MB)")
        if "sft_tokens_per_s" in result:
            t = config["sft"]
            print(f"sft tokens/s:       {result['sft_tokens_per_s']:.1f}  "
                  f"({t['batch']} x {t['text_length']} text positions; {t['steps']} steps in {t['seconds']:.2f} s, "
                  f"median step {t['step_ms_median']:.1f} ms, loss {t['loss_first']:.3f} -> {t['loss_last']:.3f}; "
                  f"peak RSS {rss['sft']:.0f} MB)")
        if "sample_tokens_per_s" in result:
            t = config["sample"]
            print(f"sample tokens/s:    {result['sample_tokens_per_s']:.1f}  "
                  f"({t['prompts']} prompts x {t['k']} x {t['new_tokens']} tokens in {t['seconds']:.2f} s: "
                  f"prefill {t['prefill_s']:.2f} s, decode {t['decode_s']:.2f} s; "
                  f"KV check {t['kv_check_max_abs']:.1e}; peak RSS {rss['sample']:.0f} MB)")
        print(f"peak RSS:           {result['peak_rss_mb']:.1f} MB ({result['peak_rss_scope']}; "
              f"{result['rss_after_import_mb']:.0f} MB right after import torch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
