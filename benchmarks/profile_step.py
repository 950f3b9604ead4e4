"""Where the time of one ViV1T training step goes: torch.profiler, grouped by operator.

Builds the case as the suite does (``benchmarks/cases.py``), runs one warm-up step, profiles
one step and prints the operators by self CPU time, with their share of the step and the FLOP
share of the matrix products.

    .venv/bin/python benchmarks/profile_step.py [--frames 140] [--grad-checkpointing selective]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import Case, build_model, make_step  # noqa: E402


def main() -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=140)
    parser.add_argument("--neurons", type=int, default=227)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--finetune", default="lora", choices=("head", "lora", "full"))
    parser.add_argument("--grad-checkpointing", default="false")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mode = {"false": False, "true": True}.get(args.grad_checkpointing, args.grad_checkpointing)
    case = Case("train", args.batch, "conv", args.finetune, mode)
    model = build_model(case, args.neurons)
    step = make_step(case, model, args.frames, args.neurons, args.batch)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        step()
    print(f"{case.label}, {args.frames} frames")
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
