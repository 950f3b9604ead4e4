"""ViV1T performance suite: training step and eval forward, time, peak memory and FLOP rate.

Each case runs in a fresh subprocess (peak memory is its own). Prints a Markdown table and writes
it to ``benchmarks/results/performance.md`` (``performance_quick.md`` with ``--quick``; the
``cuda`` runs to ``performance_cuda.md``).

    .venv/bin/python benchmarks/run_suite.py [--quick] [--device cpu|cuda] [--data]

``--quick``: the authors' path (eval and training step, batch 1) and the conv tokenizer with
LoRA-8 at batch 1, grad_checkpointing false / selective / true. Without it: batch 1, 2 and 4,
both tokenizers, the three checkpointing modes, head-only / LoRA-8 / full fine-tuning, varied
one axis at a time (see :func:`cpu_cases`). ``--device
cuda`` times fp32, fp16 and bf16 and searches the largest batch that fits in 16 GiB.
``--data`` also times the full-size dataset build and the DataModule's loading rate.
Raw results go beside the table as ``.json``; ``--render FILE.json`` rewrites the table from them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import Case, largest_cuda_batch, matmul_rate, run_case  # noqa: E402
from data_loading import data_lines  # noqa: E402
from report import format_report  # noqa: E402

from brainenc.atomic_files import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def authors_cases(batches: tuple[int, ...]) -> list[Case]:
    """The authors' execution path, measured in the same run as the reference for ratios."""
    return [Case("eval", b, "unfold", authors=True) for b in batches] + [
        Case("train", b, "unfold", "fused", authors=True) for b in batches
    ]


def quick_cases() -> list[Case]:
    return (
        authors_cases((1,))
        + [Case("eval", 1)]
        + [Case("train", 1, grad_checkpointing=mode) for mode in (False, "selective", True)]
    )


def cpu_cases() -> list[Case]:
    """The CPU matrix, trimmed to about 25 minutes on an idle 2-core machine.

    The axes vary one at a time around the recommended default (conv tokenizer, LoRA-8,
    ``grad_checkpointing: selective``): batch 1 / 2 / 4, tokenizer, checkpointing mode and
    fine-tuning mode. Skipped: the unfold tokenizer at batch 4 (about 20 GB), checkpointing for
    head-only training (no backward through the core: nothing to recompute).
    """
    cases = authors_cases((1,)) + [Case("train", 2, "unfold", "fused", authors=True)]
    cases += [Case("eval", batch) for batch in (1, 2, 4)]
    cases += [Case("train", 1, grad_checkpointing=mode) for mode in (False, "selective", True)]
    cases += [Case("train", 2, grad_checkpointing=mode) for mode in ("selective", True)]
    cases += [Case("train", 4, grad_checkpointing=mode) for mode in ("selective", True)]
    cases += [Case("train", 1, "unfold", "lora", mode) for mode in (False, "selective")]
    cases += [Case("train", 1, finetune="head")]
    cases += [Case("train", 1, finetune="full", grad_checkpointing=mode) for mode in (False, True)]
    return cases


def cuda_cases() -> list[Case]:
    return [
        Case("train", batch, "conv", "lora", mode, "cuda", dtype)
        for dtype in ("fp32", "fp16", "bf16")
        for mode in (False, "selective", True)
        for batch in (1, 4)
    ]


def spawn(task: str, payload: dict, args: argparse.Namespace) -> dict:
    """Run ``task`` (case | largest | matmul) in a fresh interpreter; return its JSON result."""
    command = [sys.executable, __file__, "--child", task, json.dumps(payload)]
    command += ["--frames", str(args.frames), "--neurons", str(args.neurons)]
    command += ["--repeats", str(args.repeats), "--threads", str(args.threads)]
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        return {**payload, "error": done.stderr.strip().splitlines()[-1:] or [done.returncode]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(task: str, payload: dict, args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    if task == "matmul":
        result = {"rate": matmul_rate(**payload)}
    elif task == "largest":
        result = largest_cuda_batch(Case(**payload), args.frames, args.neurons)
    else:
        result = run_case(Case(**payload), args.frames, args.neurons, args.repeats)
    print(json.dumps(result))


def machine_facts(args: argparse.Namespace) -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line
        )
    except (OSError, StopIteration):
        pass
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": args.threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "frames": args.frames,
        "neurons": args.neurons,
        "repeats": args.repeats,
        "matmul_size": 2048,
    }


def notes(args: argparse.Namespace) -> list[str]:
    """Lines of the ``--notes`` file (hand-written analysis), after a blank line."""
    return ["", *args.notes.read_text().splitlines()] if args.notes else []


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 1, conv, LoRA-8 only")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--data", action="store_true", help="also time dataset build + loading")
    parser.add_argument("--frames", type=int, default=140)
    parser.add_argument("--neurons", type=int, default=227)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--render", type=Path, help="re-render the table from a results .json")
    parser.add_argument("--notes", type=Path, help="Markdown analysis appended to the table")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], json.loads(args.child[1]), args)
        return

    if args.render:
        saved = json.loads(args.render.read_text())
        text = format_report(saved["results"], saved["meta"], saved["extras"] + notes(args))
        print(text)
        write_text_atomic(args.output or args.render.with_suffix(".md"), text)
        return

    meta = {**machine_facts(args), "load_before": load_average()}
    meta["matmul_rate"] = spawn("matmul", {"device": args.device}, args)["rate"]
    if args.device == "cuda":
        cases = cuda_cases()
    else:
        cases = quick_cases() if args.quick else cpu_cases()
    results, failed = [], []
    for case in cases:
        print(f"running {case.label} ...", flush=True)
        result = spawn("case", asdict(case), args)
        (failed if "error" in result else results).append(result)
        print(f"  {json.dumps(result)}", flush=True)
    extras = [f"- FAILED {r['kind']} b{r['batch']} {r}: {r['error']}" for r in failed]
    if args.device == "cuda":
        for dtype in ("fp32", "fp16", "bf16"):
            largest = spawn("largest", asdict(Case("train", 1, dtype=dtype, device="cuda")), args)
            extras.append(
                f"- largest LoRA-8 batch of {args.frames}-frame clips within 16 GiB, "
                f"{dtype}: {largest.get('largest_batch_16gib', largest)}"
            )
    else:
        extras.append(
            "- GPU: not measured here (no device lent to this task); run "
            "`benchmarks/run_suite.py --device cuda` on one."
        )
    if args.data:
        train_rate = next(
            (
                1 / r["seconds"]
                for r in results
                if (r["kind"], r["batch"], r["finetune"], r["authors"])
                == ("train", 1, "lora", False)
            ),
            None,
        )
        extras += data_lines(train_rate)
    meta["load_after"] = load_average()
    text = format_report(results, meta, extras + notes(args))
    print(text)
    name = (
        "performance_cuda.md"
        if args.device == "cuda"
        else ("performance_quick.md" if args.quick else "performance.md")
    )
    output = args.output or RESULTS / name
    write_text_atomic(output, text)
    raw = {"meta": meta, "results": results + failed, "extras": extras}
    write_text_atomic(output.with_suffix(".json"), json.dumps(raw, indent=1) + "\n")


if __name__ == "__main__":
    main()
