"""PyTorch reference of `contrastive-workbench bench`'s training step, for side-by-side ratios.

Same model, loss and optimiser as the workbench's reference step: conv3x3 3->32 (stride 1)
->64->128->256 (stride 2), each BatchNorm + ReLU, global average pool, projection MLP
256->256->128; SimCLR NT-Xent (t = 0.5); Adam lr 1e-3; 256 images = 512 views of 32x32x3;
no augmentation (fixed random views). Prints one JSON line: median seconds per step over
--steps timed steps after --warmup, its parts, views/s and the process's peak RSS.

--encoder resnet18 puts torchvision's ResNet-18 with the CIFAR stem (3x3 stride-1 conv1,
no max-pool) in place of the small CNN; --encoder vit a ViT as timm builds it and as the
workbench's default (patch 4, width 128, 6 blocks of 4 heads, class token), written out
below so torch is the only requirement. The head is then D->256->128. The JSON line also
gives the step's GFLOP as PyTorch's FlopCounterMode counts them; --gemm-peak instead times
one large matrix product, the GFLOP/s these cores reach at best.

    python bench/torch_step.py --layout nchw --threads 2
    python bench/torch_step.py --device cuda        # the GPU reference (bench/gpu_check.sh)
"""

import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


def block(c_in, c_out, stride):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(
            block(3, 32, 1), block(32, 64, 2), block(64, 128, 2), block(128, 256, 2)
        )

    def forward(self, x):
        return self.blocks(x).mean(dim=(2, 3))


class VitBlock(nn.Module):
    """timm's pre-norm Block: fused qkv with bias, SDPA, MLP ratio 4 with exact GELU."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class Vit(nn.Module):
    def __init__(self, image=32, patch=4, dim=128, depth=6, heads=4):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[VitBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.dim = dim

    def forward(self, x):
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embed
        return self.norm(self.blocks(t))[:, 0]


def resnet18_cifar():
    import torchvision

    m = torchvision.models.resnet18()
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    m.fc = nn.Identity()
    return m


def encoder_of(kind):
    """The backbone and its output width."""
    if kind == "vit":
        return Vit(), 128
    if kind == "resnet18":
        return resnet18_cifar(), 512
    return Encoder(), 256


def nt_xent(z, t):
    z = F.normalize(z, dim=1)
    n2 = z.shape[0]
    sim = z @ z.t() / t
    sim.fill_diagonal_(float("-inf"))
    target = (torch.arange(n2, device=z.device) + n2 // 2) % n2
    return F.cross_entropy(sim, target)


def gemm_peak(threads):
    """GFLOP/s of a 2048^3 fp32 product (oneDNN/MKL): what these cores reach at best."""
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    print(json.dumps({"gemm_peak_gflops": 2 * 2048**3 / statistics.median(times) / 1e9,
                      "threads": threads}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", choices=["nchw", "channels_last"], default="nchw")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256, help="images per step (two views each)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU reference")
    ap.add_argument("--encoder", choices=["small-cnn", "resnet18", "vit"], default="small-cnn")
    ap.add_argument("--size", type=int, default=32, help="the views' side in pixels")
    ap.add_argument("--gemm-peak", action="store_true",
                    help="time only a large fp32 matrix product: the cores' GEMM peak")
    args = ap.parse_args()
    if args.gemm_peak:
        return gemm_peak(args.threads)
    if args.encoder == "vit" and args.size != 32:
        ap.error("--size: the ViT is laid out for 32x32 images")
    device = torch.device(args.device)
    if device.type == "cuda":
        # fp32 as the workbench computes it: no TF32 (cuDNN's convolutions default to it),
        # and cuDNN picks its fastest algorithms for these fixed shapes, as cubecl autotunes.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    # GPU work is asynchronous: each timer waits for the queued kernels first.
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    encoder, width = encoder_of(args.encoder)
    head = nn.Sequential(nn.Linear(width, 256), nn.ReLU(inplace=True), nn.Linear(256, 128))
    model = nn.Sequential(encoder, head).to(device)
    views = torch.randn(2 * args.batch, 3, args.size, args.size, device=device)
    if args.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        views = views.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(phased=True):
        # `phased` waits for the device between the phases to time each; on a GPU that
        # idles it, so the whole step is timed apart, waiting only at its end.
        wait = sync if phased else (lambda: None)
        sync()
        t0 = time.perf_counter()
        loss = nt_xent(model(views), 0.5)
        wait()
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        wait()
        t2 = time.perf_counter()
        opt.step()
        loss.item()  # a training loop reads its loss; on a GPU this waits for the step
        sync()
        t3 = time.perf_counter()
        return t3 - t0, t1 - t0, t2 - t1, t3 - t2

    for _ in range(args.warmup):
        step()
    runs = [step() for _ in range(args.steps)]
    whole = [step(False) for _ in range(args.steps)] if device.type == "cuda" else runs
    # The step's arithmetic (convolutions and matrix products, forward and backward) as
    # PyTorch counts it: both implementations do the same work, so GFLOP/s compare.
    with FlopCounterMode(display=False) as flops:
        nt_xent(model(views), 0.5).backward()
    total = statistics.median(r[0] for r in whole)
    fwd, bwd, optim = (statistics.median(r[i] for r in runs) for i in range(1, 4))
    print(json.dumps({
        "impl": f"pytorch {torch.__version__} {args.layout}"
        + ("" if args.encoder == "small-cnn" else f" {args.encoder}")
        + (f" {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""),
        "threads": args.threads,
        "s_per_step": total,
        "views_per_sec": 2 * args.batch / total,
        "forward_loss_s": fwd,
        "backward_s": bwd,
        "optimizer_s": optim,
        "gflop_per_step": flops.get_total_flops() / 1e9,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mib": torch.cuda.max_memory_allocated(device) / 2**20
        if device.type == "cuda"
        else None,
    }))


if __name__ == "__main__":
    main()
