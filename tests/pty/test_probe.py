"""`mstar probe`: the portable numerics give the committed hashes on this CPU, under every OpenBLAS
kernel it can run, at 1 and 2 threads and both vector widths."""
import json
import pathlib
import subprocess

from conftest import ROOT

EXPECTED = json.loads((pathlib.Path(__file__).parent / "probe-expected.json").read_text())


def probe(mstar, *args, env=None):
    r = subprocess.run([mstar, "probe", "--json", *args], capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def cpu_flags():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def differing(got):
    return [name for name, h in EXPECTED["parts"].items() if got["parts"].get(name) != h]


def test_this_machine_computes_the_committed_bits(mstar):
    got = probe(mstar)
    assert not differing(got), (
        f"this CPU ({got['numerics']['cpu']}, {got['numerics']['kernel']}) computes other bits in: "
        + ", ".join(differing(got)))
    assert got["all"] == EXPECTED["all"]


def test_one_hash_under_every_kernel_thread_count_and_width(mstar, workdir):
    _, env = workdir
    flags = cpu_flags()
    kernels = ["Haswell", "Zen", "Sandybridge"] + (["SkylakeX"] if "avx512f" in flags else []) \
        + (["Cooperlake"] if "avx512_bf16" in flags else [])
    seen = {}
    for kernel in kernels:
        for threads in ("1", "2"):
            for width in ("8", "16"):
                got = probe(mstar, "--threads", threads, "--vector-width", width, env={**env, "OPENBLAS_CORETYPE": kernel})
                seen[(kernel, threads, width)] = got["all"]
    assert set(seen.values()) == {EXPECTED["all"]}, {k: v[:12] for k, v in seen.items()}
