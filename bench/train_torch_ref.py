#!/usr/bin/python3
"""PyTorch baseline for bench_train: the same Llama shape, trained the same way.

usage: /usr/bin/python3 train_torch_ref.py PRESET T B STEPS [VOCAB]

Float32 on the CPU with torch's own ops (Debian python3-torch 1.13): embedding, pre-norm
blocks with RMSNorm, RoPE, GQA causal attention (explicit softmax; 1.13 has no fused SDPA),
SwiGLU, untied head, CE + max-z-loss, backward, clip_grad_norm_, AdamW. One warm-up step,
then STEPS timed steps. Threads come from the environment (scripts/bench.d/30-train.sh
runs it with torch's pool and with OpenBLAS's pool and keeps the faster). Prints tok_s=...
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

PRESETS = {  # V, C, L, H, KV, F  (same as src/train/model_config.c)
    "tiny": (256, 128, 4, 4, 2, 384),
    "small": (4096, 512, 6, 8, 4, 1408),
    "base": (32000, 768, 12, 12, 4, 2048),
}


class Block(torch.nn.Module):
    def __init__(self, C, H, KV, Fd):
        super().__init__()
        D = C // H
        self.H, self.KV, self.D = H, KV, D
        self.n1 = torch.nn.Parameter(torch.ones(C))
        self.n2 = torch.nn.Parameter(torch.ones(C))
        self.q = torch.nn.Linear(C, H * D, bias=False)
        self.k = torch.nn.Linear(C, KV * D, bias=False)
        self.v = torch.nn.Linear(C, KV * D, bias=False)
        self.o = torch.nn.Linear(H * D, C, bias=False)
        self.g = torch.nn.Linear(C, Fd, bias=False)
        self.u = torch.nn.Linear(C, Fd, bias=False)
        self.d = torch.nn.Linear(Fd, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        H, KV, D = self.H, self.KV, self.D

        def rms(v, w):
            return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-5) * w

        def rope(v):
            a, b = v[..., : D // 2], v[..., D // 2 :]
            return torch.cat([a * cos - b * sin, b * cos + a * sin], -1)

        a = rms(x, self.n1)
        q = rope(self.q(a).view(B, T, H, D)).transpose(1, 2)
        k = rope(self.k(a).view(B, T, KV, D)).transpose(1, 2).repeat_interleave(H // KV, 1)
        v = self.v(a).view(B, T, KV, D).transpose(1, 2).repeat_interleave(H // KV, 1)
        s = (q @ k.transpose(-1, -2)) * (D**-0.5)
        s = s.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + self.o((s @ v).transpose(1, 2).reshape(B, T, H * D))
        a = rms(x, self.n2)
        return x + self.d(F.silu(self.g(a)) * self.u(a))


class Model(torch.nn.Module):
    def __init__(self, V, C, L, H, KV, Fd, T):
        super().__init__()
        self.emb = torch.nn.Embedding(V, C)
        self.blocks = torch.nn.ModuleList(Block(C, H, KV, Fd) for _ in range(L))
        self.nf = torch.nn.Parameter(torch.ones(C))
        self.head = torch.nn.Linear(C, V, bias=False)
        D = C // H
        inv = 1.0 / (10000.0 ** (torch.arange(0, D, 2).float() / D))
        ang = torch.outer(torch.arange(T).float(), inv)
        self.register_buffer("cos", ang.cos()[None, :, None, :])
        self.register_buffer("sin", ang.sin()[None, :, None, :])
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def forward(self, x):
        h = self.emb(x)
        for b in self.blocks:
            h = b(h, self.cos, self.sin, self.mask)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5) * self.nf
        return self.head(h)


def main():
    preset, T, B, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    V, C, L, H, KV, Fd = PRESETS[preset]
    if len(sys.argv) > 5:
        V = int(sys.argv[5])
    torch.manual_seed(0)
    m = Model(V, C, L, H, KV, Fd, T)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))
    total = 0.0
    for it in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = m(x).view(-1, V)
        loss = F.cross_entropy(logits, y.view(-1)) + 2e-4 * logits.max(-1).values.pow(2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if it > 0:
            total += time.perf_counter() - t0
    print(f"tok_s={B * T * steps / total:.1f} torch_threads={torch.get_num_threads()} "
          f"openblas_threads={os.environ.get('OPENBLAS_NUM_THREADS', '?')}")


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    main()
