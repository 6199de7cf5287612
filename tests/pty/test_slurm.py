"""`mstar reproduce --slurm` on a real one-node Slurm cluster (slurmctld, slurmd and munge from Debian's
packages, started here with a minimal slurm.conf): the study's runs go out as array jobs, a first call
with --no-wait returns at once, a second one waits and writes the tables, and the results equal a local
run's."""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import ROOT

SCALE = ["--quick", "--seeds", "0,1", "--policy", str(ROOT / "checkpoints" / "pre-evolved"), "--only", "methods,selection",
         "--prompts", "16", "--epochs", "0.5", "--test-prompts", "16", "--ood-prompts", "8", "--dynamics-prompts", "8",
         "--temperature-prompts", "4", "--prm-prompts", "8"]


def munge_works():
    return subprocess.run(["sh", "-c", "munge -n | unmunge"], capture_output=True).returncode == 0


@pytest.fixture
def cluster(tmp_path):
    """A one-node cluster on this machine, its configuration in tmp_path; stopped afterwards."""
    if not all(shutil.which(p) for p in ("slurmctld", "slurmd", "sbatch", "squeue", "munged")):
        pytest.skip("Slurm is not installed (scripts/test installs slurmctld, slurmd, slurm-client and munge as root)")
    started = []
    if not munge_works():
        os.makedirs("/run/munge", exist_ok=True)
        subprocess.run(["munged", "--force"], check=True)
        started.append("munged")
        for _ in range(50):
            if munge_works():
                break
            time.sleep(0.1)
    host = socket.gethostname().split(".")[0]
    base = 20000 + os.getpid() % 20000  # ports of this cluster alone
    d = tmp_path / "slurm"
    for sub in ("state", "spool"):
        (d / sub).mkdir(parents=True)
    conf = d / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=mstartest", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        f"StateSaveLocation={d}/state", f"SlurmdSpoolDir={d}/spool",
        f"SlurmctldPidFile={d}/slurmctld.pid", f"SlurmdPidFile={d}/slurmd.pid",
        f"SlurmctldPort={base}", f"SlurmdPort={base + 1}", "AuthType=auth/munge",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "ReturnToService=2", "MpiDefault=none",
        f"SlurmctldLogFile={d}/slurmctld.log", f"SlurmdLogFile={d}/slurmd.log",
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        f"NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN",
        f"PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""]))
    env = dict(os.environ, SLURM_CONF=str(conf))
    daemons = [subprocess.Popen(["slurmctld", "-D", "-c"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(1)
    daemons.append(subprocess.Popen(["slurmd", "-D"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for _ in range(150):
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
        if r.stdout.strip() == "idle":
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the one-node cluster did not come up: {(d / 'slurmctld.log').read_text()[-2000:]}")
    yield env
    subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True)
    for p in daemons:
        p.terminate()
        p.wait(timeout=30)
    if started:
        subprocess.run(["sh", "-c", "kill $(cat /run/munge/munged.pid)"], capture_output=True)


def without_seconds(o):
    if isinstance(o, dict):
        return {k: without_seconds(v) for k, v in o.items() if k != "seconds"}
    if isinstance(o, list):
        return [without_seconds(v) for v in o]
    return o


def test_a_study_on_slurm_equals_a_local_one(mstar, workdir, cluster):
    path, env = workdir
    env = dict(env, **{"SLURM_CONF": cluster["SLURM_CONF"]})
    cmd = [mstar, "reproduce", *SCALE, "--out", "cluster", "--slurm", "--cpus", "1"]
    first = subprocess.run(cmd + ["--no-wait"], capture_output=True, text=True, env=env, cwd=str(path), timeout=120)
    assert first.returncode == 0, first.stderr
    assert "submitted 2 PRM and 14 run tasks as Slurm jobs" in first.stderr, first.stderr
    assert not (path / "cluster" / "README.md").exists()
    script = (path / "cluster" / "slurm" / "run.sh").read_text()
    assert "#SBATCH --array=0-13" in script and "--slurm-task \"run:$SLURM_ARRAY_TASK_ID\"" in script
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(path), timeout=900)
    assert second.returncode == 0, second.stderr
    assert " step " not in second.stderr, "the collecting call trains nothing: the tasks did"
    logs = sorted(p.name for p in (path / "cluster" / "slurm" / "logs").iterdir())
    assert len(logs) == 16, logs

    local = subprocess.run([mstar, "reproduce", *SCALE, "--out", "local", "--threads", "2"], capture_output=True, text=True,
                           env=env, cwd=str(path), timeout=900)
    assert local.returncode == 0, local.stderr
    on_cluster = json.loads((path / "cluster" / "summary.json").read_text())
    here = json.loads((path / "local" / "summary.json").read_text())
    assert without_seconds(on_cluster) == without_seconds(here)
    assert (path / "cluster" / "methods.md").read_text().split("\n## ")[0] == (path / "local" / "methods.md").read_text().split("\n## ")[0]

    # A third call finds every run finished and submits nothing.
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(path), timeout=300)
    assert again.returncode == 0 and "submitted" not in again.stderr, again.stderr
