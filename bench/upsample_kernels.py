"""GPU time of the generator's bilinear x2 upsampling: ATen, torch.compile, and alternatives.

Why ``optim.compile`` buys little for the lab's DCGAN: Inductor rewrites bilinear upsampling as
index arithmetic whose backward is a scatter-add, slower than ATen's kernel. For the generator's
two upsampling shapes (batch 256, bf16, channels_last) it prints the GPU kernel time of the
forward, forward + backward, and a whole generator block's forward + backward.

    python bench/upsample_kernels.py          (needs a CUDA GPU)
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from common import print_command
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile


def bilinear(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def separable_bilinear(x: torch.Tensor) -> torch.Tensor:
    """x2 bilinear (align_corners=False) one axis at a time: out[2i] = x[i] + (x[i-1] - x[i]) / 4,
    out[2i+1] = x[i] + (x[i+1] - x[i]) / 4, the edges repeated."""
    for dim in (-1, -2):
        n = x.shape[dim]
        prev = torch.cat((x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)), dim)
        nxt = torch.cat((x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)), dim)
        pair = torch.stack((torch.lerp(x, prev, 0.25), torch.lerp(x, nxt, 0.25)), dim=dim)
        x = pair.flatten(dim - 1, dim) if dim == -1 else pair.flatten(-3, -2)
    return x


def gpu_microseconds(fn: Callable[[], object], iters: int = 10) -> float:
    """Summed CUDA kernel time of one call, averaged over ``iters`` profiled calls."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(iters):
            fn()
        torch.cuda.synchronize()
    kernels = [e for e in prof.key_averages() if e.device_type == DeviceType.CUDA]
    return sum(e.self_device_time_total for e in kernels) / iters


def time_variant(
    upsample: Callable, x: torch.Tensor, conv: torch.nn.Module, bn: torch.nn.Module, compiled: bool
) -> tuple[float, float, float]:
    """GPU microseconds of upsample forward, forward + backward, and a block's forward + backward."""
    xi = x.clone().requires_grad_()
    gy = torch.randn_like(upsample(xi))

    def block(t: torch.Tensor) -> torch.Tensor:
        return torch.relu(bn(conv(upsample(t))))

    block_fn = torch.compile(block) if compiled else block
    gb = torch.randn_like(block_fn(xi))
    return (
        gpu_microseconds(lambda: upsample(xi)),
        gpu_microseconds(lambda: torch.autograd.grad(upsample(xi), xi, gy)),
        gpu_microseconds(lambda: torch.autograd.grad(block_fn(xi), [xi, conv.weight], gb)),
    )


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("bench/upsample_kernels.py needs a CUDA GPU")
    torch.backends.cudnn.benchmark = True
    print_command(__file__)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    variants = {
        "ATen": bilinear,
        "compiled ATen": torch.compile(bilinear),
        "separable, eager": separable_bilinear,
        "separable, compiled": torch.compile(separable_bilinear),
        "nearest (not the lab's)": lambda t: F.interpolate(t, scale_factor=2, mode="nearest"),
    }
    for shape in [(256, 256, 7, 7), (256, 128, 14, 14)]:
        x = torch.randn(*shape, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
        gap = (separable_bilinear(x).float() - bilinear(x).float()).abs().max().item()
        print(f"input {shape}: max |separable - ATen| = {gap:.4f} (bf16)")
        channels = shape[1]
        conv = torch.nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False)
        conv = conv.to("cuda", torch.bfloat16, memory_format=torch.channels_last)
        bn = torch.nn.BatchNorm2d(channels // 2).to("cuda", torch.bfloat16)
        for name, upsample in variants.items():
            forward, both, whole = time_variant(upsample, x, conv, bn, compiled="compiled" in name)
            print(
                f"  {name:24s} forward {forward:7.1f} us   forward+backward {both:7.1f} us   "
                f"block forward+backward {whole:7.1f} us",
                flush=True,
            )


if __name__ == "__main__":
    main()
