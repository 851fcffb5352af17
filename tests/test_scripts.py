"""The benchmark scripts run against the current API (their figures are read by people, not asserted)."""

import subprocess
import sys

from harness_util import REPO


def _run(*args) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def test_bench_eval_prints_a_scaling_ratio():
    out = _run("scripts/bench_eval.py", "--episodes", "2", "--startup")
    assert "scaling 2 workers / 1 worker:" in out and "worker start-up:" in out and "(success 100%)" in out


def test_bench_env_prints_ratios_for_every_mode():
    out = _run("scripts/bench_env.py", "--steps", "3", "--warmup", "1", "--repeats", "1")
    assert "speed ratio raw/ours" in out
    for mode in ("render   joint_pos", "render   ee_pose", "physics  joint_pos", "physics  ee_pose"):
        assert mode in out, out


def test_bench_factors_prints_a_ratio_per_axis():
    out = _run("scripts/bench_factors.py", "--steps", "2", "--warmup", "1", "--repeats", "1",
               "--axes", "light_intensity", "language")
    assert "ratio = nominal s/step" in out
    for variant in ("nominal", "light_intensity=0.2", "language=heldout"):
        assert variant in out, out


def test_every_cell_of_the_modular_vs_e2e_sweep_is_a_valid_run():
    """The published sweep's 312 eval.run commands compose and pass the harness's checks (nothing is run)."""
    import os
    import shlex

    from hydra import compose, initialize_config_dir

    from eval import schema

    proc = subprocess.run(["bash", "scripts/modular_vs_e2e.sh"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "STAGES": "list", "PY": sys.executable})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 312 and len({line.split("out_dir=")[1] for line in lines}) == 312  # no folder twice
    assert not [line for line in lines if "agent=lerobot" in line and "calibration_error" in line]  # ACT never reads it
    cells = {tuple(a for a in shlex.split(line)[3:] if not a.startswith(("seed=", "out_dir="))) for line in lines}
    schema.register()
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        for cell in sorted(cells):
            schema.validate(compose("config", overrides=[*cell, "out_dir=unused"]))


def test_factor_table_writes_the_readme_rows_from_breaking_points(tmp_path):
    csv = tmp_path / "breaking_points.csv"
    csv.write_text(
        "task,scene,calibration,axis,unit,agent,levels,rates,n,status,breaking_point,ci_low,ci_high,note\n"
        "place,shadows,true,light_temperature_k,K,classic,2000.0;6500.0,0.06;1.00,100,fitted,3927.2,3594.1,4255.0,\n"
        "place,lean,true,clutter,objects,classic,0.0;4.0,1.00;0.36,100,fitted,2.834,2.25,3.44,\n"
        "place,lean,true,clutter,objects,oracle,0.0;4.0,1.00;1.00,100,not reached,,,,\n"
        "place,lean,true,language,instruction set,oracle,train;heldout,1.00;1.00,100,categorical,,,,\n")
    out = _run("scripts/factor_table.py", str(csv), str(tmp_path / "table.md"))
    rows = out.splitlines()
    assert rows[2] == "| clutter (objects) | lean | 0/4 | 100/100; not reached | 100/36; **2.83** [2.25, 3.44] | - |"
    assert rows[3] == "| language (instruction set) | lean | train/heldout | 100/100; categorical | - | - |"
    assert rows[4].endswith("| 6/100; **3927** [3594, 4255] | - |")  # lean scene first, then shadows
    assert (tmp_path / "table.md").read_text() == out
