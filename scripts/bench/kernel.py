#!/usr/bin/env python3
"""Measures the mstar Jupyter kernel as a client sees it, beside ipykernel (the Python kernel a
wrapper kernel would be built on), with jupyter_client on the same machine:

  * start: KernelManager.start_kernel until the kernel answers kernel_info (wait_for_ready);
  * round trip: execute_interactive of a trivial cell (`seed 1`; `pass` for Python), until its reply;
  * complete: a complete_request's round trip.

    scripts/bench/kernel.py [--mstar PATH] [--starts 5] [--cells 200] [--json]

The mstar kernelspec is installed into a temporary Jupyter data folder (`mstar kernel install
--user`); ipykernel is measured only when it imports (pip install ipykernel). Each figure is the
median over the runs, in milliseconds.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

ROOT = pathlib.Path(__file__).resolve().parents[2]


def measure(kernel_name, code, complete_code, starts, cells, cwd):
    start_ms, cell_ms, complete_ms = [], [], []
    for i in range(starts):
        km = KernelManager(kernel_name=kernel_name)
        t = time.perf_counter()
        km.start_kernel(cwd=cwd)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        start_ms.append((time.perf_counter() - t) * 1e3)
        if i == 0:
            for _ in range(cells):
                t = time.perf_counter()
                reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: None)
                cell_ms.append((time.perf_counter() - t) * 1e3)
                assert reply["content"]["status"] == "ok", reply["content"]
            for _ in range(cells):
                t = time.perf_counter()
                kc.complete(complete_code, len(complete_code), reply=True, timeout=60)
                complete_ms.append((time.perf_counter() - t) * 1e3)
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return {"start_ms": round(statistics.median(start_ms), 1), "cell_ms": round(statistics.median(cell_ms), 2),
            "complete_ms": round(statistics.median(complete_ms), 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mstar", default=str(ROOT / ".build" / "release" / "mstar"))
    p.add_argument("--starts", type=int, default=5)
    p.add_argument("--cells", type=int, default=200)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYTER_DATA_DIR"] = tmp + "/data"
        subprocess.run([args.mstar, "kernel", "install", "--user", "--name", "mstar-bench"], check=True, capture_output=True)
        result = {"cpu": cpu_model(), "mstar": measure("mstar-bench", "seed 1", "set plot_w", args.starts, args.cells, tmp)}
        try:
            import ipykernel  # noqa: F401
            result["ipykernel"] = measure("python3", "pass", "impo", args.starts, args.cells, tmp)
        except ImportError:
            result["ipykernel"] = None
    if args.json:
        print(json.dumps(result))
        return
    print(f"CPU: {result['cpu']}")
    print(f"{'kernel':<12}{'start ms':>10}{'cell ms':>10}{'complete ms':>13}")
    for name in ("mstar", "ipykernel"):
        r = result[name]
        if r:
            print(f"{name:<12}{r['start_ms']:>10}{r['cell_ms']:>10}{r['complete_ms']:>13}")


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
