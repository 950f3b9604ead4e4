"""One benchmark case of ViV1T (train step or eval forward), run inside its own process.

A case is a :class:`Case`; :func:`run_case` builds the ``viv1t`` model from the Hydra config,
applies the fine-tuning mode, runs one warm-up and ``repeats`` timed steps and reports seconds,
peak memory and the model FLOPs of the step. :func:`matmul_rate` measures the dense fp32 (or
half-precision) matrix-product rate that achieved FLOP rates are compared with.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from brainenc.conf import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3
CUDA_BUDGET_BYTES = 16 * GIB  # the seed's P100


@dataclass(frozen=True)
class Case:
    """What one subprocess measures.

    ``kind`` is ``"train"`` (forward, loss, backward, AdamW step) or ``"eval"`` (no-grad forward);
    ``finetune`` is ``"head"``, ``"lora"`` (rank 8 on every ``fused_linear``, alpha 16, heads
    trainable), ``"fused"`` (the ``fused_linear`` weights and heads, the issue's reference) or
    ``"full"``; ``grad_checkpointing`` is False, ``"selective"`` or True. ``authors`` runs the
    authors' execution path: unfold tokenizer, no recomputation, no inference chunking, one
    fused projection and torch's dropout (``authors_path.py``).
    """

    kind: str
    batch: int
    tokenizer: str = "conv"
    finetune: str = "lora"
    grad_checkpointing: bool | str = False
    device: str = "cpu"
    dtype: str = "fp32"
    authors: bool = False

    @property
    def label(self) -> str:
        if self.authors:
            return f"{self.kind} b{self.batch} authors' path {self.finetune} {self.device}"
        if self.kind == "eval":
            return f"eval b{self.batch} {self.tokenizer} {self.device}/{self.dtype}"
        return (
            f"train b{self.batch} {self.tokenizer} {self.finetune} "
            f"ckpt={self.grad_checkpointing} {self.device}/{self.dtype}"
        )


def current_rss() -> int:
    """Resident set size of this process in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_model(case: Case, neurons: int):
    """The ``viv1t`` model for ``case`` with its trainable parameters set; returns the module."""
    import peft
    import torch
    from authors_path import use_authors_path
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from brainenc.models import MouseSpec

    torch.manual_seed(0)
    overrides = [
        "+model=viv1t",
        f"model.core.tokenizer={case.tokenizer}",
        f"model.core.grad_checkpointing={str(case.grad_checkpointing).lower()}",
    ]
    if case.authors:
        overrides.append("model.core.chunk_tokens=null")
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        config = compose(overrides=overrides).model
    mice = {"A": MouseSpec(torch.rand(neurons, 2) * 500, torch.rand(neurons))}
    model = instantiate(config)(mice=mice)
    if case.authors:
        use_authors_path(model)
    if case.finetune == "lora":
        lora = peft.LoraConfig(r=8, lora_alpha=16, target_modules=["fused_linear"])
        model = peft.get_peft_model(model, lora)
    for name, parameter in model.named_parameters():
        head = ".readouts." in f".{name}" or ".shifters." in f".{name}"
        if case.finetune == "head":
            parameter.requires_grad_(head)
        elif case.finetune == "lora":
            parameter.requires_grad_(head or ".lora_" in name)
        elif case.finetune == "fused":
            parameter.requires_grad_(head or name.endswith("fused_linear.weight"))
        else:
            parameter.requires_grad_(True)
    return model.to(case.device)


def make_step(case: Case, model, frames: int, neurons: int, batch: int):
    """A closure running one step of ``case`` at ``batch`` clips of ``frames`` frames."""
    import torch

    device = torch.device(case.device)
    video = torch.randn(batch, 1, frames, 36, 64, device=device)
    behavior = torch.randn(batch, 2, frames, device=device)
    pupil_center = torch.randn(batch, 2, frames, device=device)
    target = torch.rand(batch, neurons, frames - 24, device=device)
    dtype = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[case.dtype]

    def forward() -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return model(video, mouse_id="A", behavior=behavior, pupil_center=pupil_center)

    if case.kind == "eval":
        model.eval()

        def step() -> None:
            with torch.no_grad():
                forward()

        return step
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=case.dtype == "fp16")

    def step() -> None:
        loss = torch.nn.functional.poisson_nll_loss(forward().float(), target, log_input=False)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    return step


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def run_case(case: Case, frames: int, neurons: int, repeats: int) -> dict:
    """Seconds (median of ``repeats`` after a warm-up), peak memory and FLOPs of ``case``."""
    import torch

    from brainenc.host_memory import retain_freed_memory
    from brainenc.models.flops import forward_flops, training_step_flops

    if not case.authors:  # brainenc's training entry point does this too (conf/train.yaml)
        retain_freed_memory()
    rate = matmul_rate(case.device, case.dtype)
    model = build_model(case, neurons)
    core = model.get_base_model().core if hasattr(model, "get_base_model") else model.core
    step = make_step(case, model, frames, neurons, case.batch)
    baseline = current_rss()
    if case.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = []
    for _ in range(1 + repeats):
        synchronize(case.device)
        start = time.perf_counter()
        step()
        synchronize(case.device)
        seconds.append(time.perf_counter() - start)
    if case.kind == "eval":
        flops, recomputed = forward_flops(core, frames, neurons).total, 0.0
    else:
        flops, recomputed = training_step_flops(
            core, frames, neurons, case.finetune, 8, case.grad_checkpointing
        )
    result = {
        **asdict(case),
        "label": case.label,
        "matmul_rate": rate,
        "seconds": statistics.median(seconds[1:]),
        "warmup_seconds": seconds[0],
        "flops": flops * case.batch,
        "recomputed_flops": recomputed * case.batch,
        "baseline_bytes": baseline,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    if case.device == "cuda":
        result["peak_cuda_bytes"] = torch.cuda.max_memory_allocated()
    return result


def largest_cuda_batch(case: Case, frames: int, neurons: int, limit: int = 256) -> dict:
    """Largest batch whose training step peaks within 16 GiB of CUDA memory (doubling, then bisection)."""
    import torch

    model = build_model(case, neurons)

    def fits(batch: int) -> bool:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:
            make_step(case, model, frames, neurons, batch)()
            synchronize("cuda")
        except torch.cuda.OutOfMemoryError:
            return False
        finally:
            model.zero_grad(set_to_none=True)
        return torch.cuda.max_memory_allocated() <= CUDA_BUDGET_BYTES

    low, high = 0, 1
    while high <= limit and fits(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return {**asdict(case), "label": case.label, "largest_batch_16gib": low}


def matmul_rate(device: str = "cpu", dtype: str = "fp32", size: int = 2048, seconds: float = 3.0):
    """Dense ``size x size`` matrix-product rate in FLOP/s: median of products over ``seconds``.

    The median, not the best, so that the rate reflects the share of a loaded machine the case
    itself will get; each case measures it in its own process just before running.
    """
    import torch

    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    a = torch.randn(size, size, device=device, dtype=torch_dtype)
    b = torch.randn(size, size, device=device, dtype=torch_dtype)
    torch.mm(a, b)  # warm-up
    timings = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(timings) < 3:
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        timings.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(timings)
