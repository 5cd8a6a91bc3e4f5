"""Tests for reference/cpu.py: how the course sets OpenMP waiting, thread counts and denormals.

The wait policy takes effect only in a process where `reference` is imported before torch, so
those tests start a fresh Python; the rest run here with the load probe replaced where a test
needs a busy or an idle machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reference import cpu
from reference.config import TrainConfig
from reference.trainer import train

REPO = Path(__file__).resolve().parents[1]
CPU_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "GAN_COURSE_CPU", "GAN_COURSE_THREADS",
           "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_WORKER", "LOCAL_WORLD_SIZE")  # fmt: skip


def fresh_python(code: str, **env: str) -> dict:
    """Run `code` in a new interpreter whose environment has no CPU settings but `env`; its last stdout line as JSON."""
    clean = {k: v for k, v in os.environ.items() if k not in CPU_ENV}
    clean.update(env)
    clean["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


REPORT = (
    "import os, json, torch, reference.cpu as c; "
    "print(json.dumps({'spin': os.environ.get('GOMP_SPINCOUNT'), 'policy': os.environ.get('OMP_WAIT_POLICY'), "
    "'omp': os.environ.get('OMP_NUM_THREADS'), 'threads': torch.get_num_threads(), **c.WAIT}))"
)


def test_choose_wait_sleeps_at_once_from_half_a_busy_core():
    assert cpu.choose_wait(0.0) == cpu.choose_wait(0.49) == cpu.choose_wait(None) == "default"
    assert cpu.choose_wait(cpu.BUSY_AT) == cpu.choose_wait(2.0) == "passive"


def test_import_reference_before_torch_chooses_the_wait_by_the_load_it_sees():
    """Whatever load this machine has now, the choice follows the load the new process saw."""
    got = fresh_python("import reference; " + REPORT, OMP_NUM_THREADS="2")
    assert got["choice"] == cpu.choose_wait(got["others"]) and got["spin"] is None, got
    assert got["policy"] == ("PASSIVE" if got["choice"] == "passive" else None), got


@pytest.mark.parametrize("value", ["0", "-1", "abc", " "])
def test_an_omp_num_threads_openmp_ignores_is_not_taken_for_one_thread(monkeypatch, value):
    """OpenMP ignores OMP_NUM_THREADS=0 or -1 (libgomp: "Invalid value") and torch keeps its team of
    threads, so those threads must still wait passively beside busy jobs (was: "one thread", spinning)."""
    monkeypatch.delitem(sys.modules, "torch")  # prepare_openmp acts only before torch is imported
    monkeypatch.setattr(cpu, "others_busy_cores", lambda window=0.05: 2.0)
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    monkeypatch.setattr(cpu, "physical_cores", lambda: 2)
    monkeypatch.setattr(cpu, "WAIT", {"choice": None, "others": None})
    env = {"OMP_NUM_THREADS": value}
    assert cpu.prepare_openmp(env)
    assert cpu.WAIT["choice"] == "passive" and env.get("OMP_WAIT_POLICY") == "PASSIVE", (cpu.WAIT, env)


@pytest.mark.parametrize("value", ["", "0", "-1", "1.5", "abc"])
def test_an_omp_num_threads_openmp_cannot_read_is_replaced_and_nothing_is_printed(value):
    """`export OMP_NUM_THREADS=` in a hub's profile, or a 0 meant as "the default": GNU libgomp printed "libgomp:
    Invalid value for environment variable OMP_NUM_THREADS" in every process that loaded torch (above each
    command's one-line error, in each kernel) and ran every physical core, whatever the container's quota. It
    counts as unset now: the course's thread count replaces it, for this process and those it starts."""
    clean = {k: v for k, v in os.environ.items() if k not in CPU_ENV}
    code = "import reference, os, torch; torch.ones(64, 64).sum(); print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads())"
    done = subprocess.run([sys.executable, "-c", code], env={**clean, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": value},
                          capture_output=True, text=True, check=True)
    assert done.stderr == "", done.stderr
    assert done.stdout.split() == [str(cpu.thread_count(clean))] * 2, done.stdout


@pytest.mark.parametrize("value, reads", [("4", True), (" 2 ", True), ("4,2", True), ("+3", True), ("", False), (" ", False),
                                          ("0", False), ("-1", False), ("1.5", False), ("abc", False), ("4,", False),
                                          ("2,0", False), ("\u0663", False)])
def test_openmp_reads_what_libgomp_reads(value, reads):
    assert cpu.openmp_reads(value) is reads


def test_import_reference_beside_busy_loops_waits_passively():
    with cpu.busy_loops(2):
        got = fresh_python("import reference; " + REPORT, OMP_NUM_THREADS="2")
    assert got["others"] >= 1.0 and got["choice"] == "passive" and got["policy"] == "PASSIVE", got


def test_one_thread_skips_the_look_at_the_load():
    got = fresh_python("import reference; " + REPORT, OMP_NUM_THREADS="1")
    assert got["choice"] == "one thread" and got["others"] is None and got["policy"] is None, got


def test_the_users_settings_and_gan_course_cpu_torch_are_left_alone():
    mine = fresh_python("import reference; " + REPORT, OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="2")
    assert mine["policy"] == "ACTIVE" and mine["spin"] is None and mine["choice"] == "user", mine
    assert fresh_python("import reference; " + REPORT, GOMP_SPINCOUNT="7")["spin"] == "7"
    untouched = fresh_python("import reference; " + REPORT, GAN_COURSE_CPU="torch", PYTEST_XDIST_WORKER_COUNT="64")
    assert untouched["spin"] is None and untouched["policy"] is None and untouched["omp"] is None, f"GAN_COURSE_CPU=torch changed {untouched}"


def test_torch_imported_first_keeps_its_defaults():
    with cpu.busy_loops(2):
        got = fresh_python("import torch, reference; " + REPORT, OMP_NUM_THREADS="2")
    assert got["policy"] is None and got["choice"] is None, "with torch already loaded the wait cannot apply and must not be set"


def test_passive_wait_reads_the_policy_and_a_zero_spin():
    assert cpu.passive_wait({"OMP_WAIT_POLICY": "passive"}) and cpu.passive_wait({"GOMP_SPINCOUNT": "0"})
    assert not cpu.passive_wait({}) and not cpu.passive_wait({"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "10000"})


def test_parallel_workers_share_the_cores():
    cores = min(cpu.usable_cores(), cpu.physical_cores())
    got = fresh_python("import reference; " + REPORT, PYTEST_XDIST_WORKER_COUNT=str(cores))
    assert got["threads"] == 1, f"{cores} xdist workers on {cores} cores should get 1 thread each, got {got}"
    assert cpu.thread_count({"LOCAL_WORLD_SIZE": str(2 * cores)}) == 1
    assert cpu.thread_count({"GAN_COURSE_THREADS": "3", "PYTEST_XDIST_WORKER_COUNT": "8"}) == 3
    assert cpu.thread_count({"GAN_COURSE_THREADS": "lots"}) == cores, "a malformed value is ignored"


def test_a_container_quota_caps_the_threads(monkeypatch):
    monkeypatch.setattr(cpu, "_cgroup_cpus", lambda: 1.0)
    assert cpu.usable_cores() == 1
    monkeypatch.setattr(cpu, "_cgroup_cpus", lambda: float("inf"))
    assert cpu.usable_cores() == len(os.sched_getaffinity(0))


def fake_cgroups(monkeypatch, tmp_path: Path, own: str, files: dict[str, str]) -> None:
    """A cgroup mount under tmp_path holding `files` (path below the mount: text), and a
    /proc/self/cgroup that puts this process in `own` ("0::/..." for v2, "N:cpu,cpuacct:/..." for v1)."""
    for name, text in files.items():
        (tmp_path / "cgroup" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cgroup" / name).write_text(text)
    (tmp_path / "proc-self-cgroup").write_text(own)
    monkeypatch.setattr(cpu, "CGROUP_ROOT", tmp_path / "cgroup")
    monkeypatch.setattr(cpu, "PROC_CGROUP", tmp_path / "proc-self-cgroup")


SERVICE = "system.slice/jupyter-ada-singleuser.service"


@pytest.mark.parametrize(
    ("own", "files", "cpus"),
    [
        # JupyterHub's SystemdSpawner, cpu_limit = 2: the quota on the kernel's service, none at the root
        ("0::/" + SERVICE + "\n", {SERVICE + "/cpu.max": "200000 100000\n", "system.slice/cpu.max": "max 100000\n"}, 2.0),
        # a slice's quota binds every service below it
        ("0::/" + SERVICE + "\n", {SERVICE + "/cpu.max": "max 100000\n", "system.slice/cpu.max": "150000 100000\n"}, 1.5),
        # a container with its own cgroup namespace: the quota at the mount's root
        ("0::/\n", {"cpu.max": "100000 100000\n"}, 1.0),
        # cgroup v1, a quota on the process's own cgroup of the cpu controller
        ("4:memory:/x\n3:cpu,cpuacct:/batch/job7\n", {"cpu/batch/job7/cpu.cfs_quota_us": "300000\n",
         "cpu/batch/job7/cpu.cfs_period_us": "100000\n", "cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
        ("0::/" + SERVICE + "\n", {SERVICE + "/cpu.max": "max 100000\n"}, float("inf")),  # no quota anywhere
    ],
)
def test_the_tightest_cpu_quota_over_the_process_counts(monkeypatch, tmp_path, own, files, cpus):
    """A CPU quota may sit on any cgroup from the mount down to the process's own: only the one at the
    mount's root was read, so a JupyterHub kernel limited to 2 CPUs on a 64-core node got 64 threads."""
    fake_cgroups(monkeypatch, tmp_path, own, files)
    assert cpu._cgroup_cpus() == cpus


@pytest.mark.parametrize("others, expected", [(0.0, 2), (0.4, 2), (1.0, 1), (2.0, 1), (7.5, 1)])
def test_a_run_leaves_the_cores_other_jobs_keep_busy(monkeypatch, others, expected):
    monkeypatch.delenv("GAN_COURSE_THREADS", raising=False)
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    monkeypatch.setattr(cpu, "others_busy_cores", lambda window=0.05: others)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert cpu.run_threads() == expected, f"{others} busy cores of 2"
    assert cpu.run_threads(requested=2) == 2, "--threads wins over the load"
    monkeypatch.setenv("GAN_COURSE_THREADS", "2")
    assert cpu.run_threads() == 2, "GAN_COURSE_THREADS wins over the load"


def test_more_threads_than_cores_are_run_with_a_warning_that_says_so(monkeypatch):
    """--threads 999 on 2 cores ran 250 times slower, silently."""
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    with pytest.warns(UserWarning, match=r"--threads 999 is more than the 2 core\(s\) this process may use"):
        assert cpu.run_threads(requested=999) == 999
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cpu.run_threads(requested=2) == 2


@pytest.mark.parametrize("policy, large, expected", [("PASSIVE", True, 2), ("PASSIVE", False, 1), ("", True, 1), ("", False, 1)])
def test_a_large_run_keeps_its_threads_beside_busy_jobs_only_where_they_wait_passively(monkeypatch, policy, large, expected):
    monkeypatch.delenv("GAN_COURSE_THREADS", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", policy)
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    monkeypatch.setattr(cpu, "others_busy_cores", lambda window=0.05: 2.0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert cpu.run_threads(large=large) == expected


def test_the_trainer_calls_convolutional_runs_at_ngf_32_large():
    from reference.trainer import large_steps

    assert large_steps(TrainConfig(model="dcgan")) and large_steps(TrainConfig(model="upsample"))
    assert not large_steps(TrainConfig(model="mlp")) and not large_steps(TrainConfig(model="dcgan", ngf=16))


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="the load probe reads /proc/stat (Linux)")
def test_the_load_probe_sees_a_busy_loop():
    with cpu.busy_loops(1, settle=0.0) as loops:
        busy = cpu.others_busy_cores(window=0.5)
    assert loops[0].poll() is not None, "busy_loops leaves no process behind"
    assert busy is not None and busy >= 0.6, f"one busy-loop process beside us, the probe saw {busy} busy cores"


def test_flush_denormals_restores_the_previous_setting():
    for before in (False, True):
        torch.set_flush_denormal(before)
        with cpu.flush_denormals():
            assert cpu.denormals_flushed()
        assert cpu.denormals_flushed() is before, f"flush_denormals left {not before}, the caller had {before}"
    torch.set_flush_denormal(False)


def test_flush_denormals_has_numpy_cache_its_float_limits_first(monkeypatch):
    """NumPy < 2.3 computes np.finfo on first use and, with denormals flushed, warns "The value of the
    smallest subnormal for <class 'numpy.float64'> type is zero": `gan-course train` printed that twice
    (matplotlib's first import inside the run). Every float type's limits must be computed before."""
    import numpy as np

    events: list = []
    real_finfo, real_flush = np.finfo, torch.set_flush_denormal
    monkeypatch.setattr(np, "finfo", lambda t: (events.append(np.dtype(t)), real_finfo(t))[1])
    monkeypatch.setattr(torch, "set_flush_denormal", lambda on: (events.append(on), real_flush(on))[1])
    torch.set_flush_denormal(False)
    with cpu.flush_denormals():
        pass
    first_flush = events.index(True)
    before = set(events[:first_flush])
    missing = [t.name for t in map(np.dtype, (np.half, np.single, np.double, np.longdouble)) if t not in before]
    assert not missing, f"denormals were flushed before NumPy cached the limits of {missing}"


def test_train_restores_denormals_and_threads_and_records_its_threads(tmp_path, monkeypatch):
    """After train() the process has its own settings back; the run's count is in config.json and last.pt."""
    monkeypatch.setattr(cpu, "others_busy_cores", lambda window=0.05: 0.0)
    torch.set_flush_denormal(False)
    before = torch.get_num_threads()
    calls: list[int] = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n))[1])
    cfg = TrainConfig(model="mlp", dataset="digits", epochs=1, max_images=64, device="cpu", threads=1, progress=False)
    run = train(cfg, tmp_path / "run")
    assert not cpu.denormals_flushed(), "train() left denormal flushing on in the caller's process"
    assert torch.get_num_threads() == before, f"train() left {torch.get_num_threads()} threads, the caller had {before}"
    assert json.loads((run / "config.json").read_text())["threads"] == 1
    if before != 1:
        assert calls[0] == 1, f"--threads 1 should train with 1 thread, set_num_threads calls: {calls}"


def test_a_resumed_run_keeps_the_threads_it_started_with(tmp_path, monkeypatch):
    from reference.checkpoint import load_checkpoint

    monkeypatch.setattr(cpu, "others_busy_cores", lambda window=0.05: 5.0)  # busy: the run starts with 1 thread
    monkeypatch.delenv("GAN_COURSE_THREADS", raising=False)
    cfg = TrainConfig(model="mlp", dataset="digits", epochs=1, max_images=64, device="cpu", progress=False)
    run = train(cfg, tmp_path / "run")
    assert load_checkpoint(run)["config"]["threads"] == 1
    # idle now, where a new run would take 2 threads: the resumed run still takes the 1 it recorded
    monkeypatch.setattr(cpu, "run_threads", lambda requested=None, large=False: requested or 2)
    state = load_checkpoint(run)
    resumed = TrainConfig.from_dict({**state["config"], "epochs": 2})
    train(resumed, run, state=state)
    assert load_checkpoint(run)["config"]["threads"] == 1, "the resumed run changed its thread count"
