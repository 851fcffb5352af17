"""eval.report's table layouts on hand-made episode records."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from envs.errors import BenchError
from eval.report import comparison_table, load_episodes, report
from eval.store import EpisodeStore, settings_id, summarize


def _episodes():
    rows = []
    for agent, cal, camera, wins in [("classic", "true", "nominal", 4), ("classic", "nominal", "nominal", 4),
                                     ("classic", "true", "shifted", 4), ("classic", "nominal", "shifted", 1),
                                     ("act", "true", "nominal", 2), ("act", "true", "shifted", 0)]:
        for i in range(4):
            rows.append({"agent": agent, "task": "place", "camera": camera, "magnitude": 0.0 if camera == "nominal"
                         else 3.0, "calibration": cal, "scene": "lean", "success": i < wins, "steps": 50,
                         "status": "ok"})
    return pd.DataFrame(rows)


def test_calibration_as_row_key_by_default():
    table = comparison_table(summarize(_episodes()))
    assert len(table) == 4 and "classic:success_rate" in table
    stale_shifted = table[(table.camera == "shifted") & (table.calibration == "nominal")]
    assert stale_shifted["classic:success_rate"].item() == 0.25
    assert stale_shifted["act:success_rate"].isna().item()


def test_calibration_columns_put_one_row_per_camera():
    table = comparison_table(summarize(_episodes()), calibration_columns=True)
    assert table["camera"].tolist() == ["nominal", "shifted"] and "calibration" not in table
    assert table["classic@nominal:success_rate"].tolist() == [1.0, 0.25]
    assert table["classic@true:success_rate"].tolist() == [1.0, 1.0]
    assert table["act@true:success_rate"].tolist() == [0.5, 0.0]


def _run(folder: Path, *, max_steps: int = 200, base_seed: int = 0, wins: int = 4, with_id: bool = True,
         agent: str = "classic", sid: str | None = None) -> Path:
    """A run folder as eval.run leaves it: config.yaml and episodes.csv."""
    config = {"agent": {"name": agent}, "task": {"name": "place"}, "camera": {"name": "nominal", "magnitude": None},
              "scene": {"visual": "lean"}, "max_steps": max_steps, "seed": base_seed, "episodes": 4,
              "out_dir": str(folder)}
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    ident = {"agent": agent, "task": "place", "camera": "nominal", "magnitude": 0.0, "calibration": "true",
             "scene": "lean", "privileged": agent == "oracle", "base_seed": base_seed}
    if with_id:
        ident["settings_id"] = sid or settings_id(config)
    rows = {i: {**ident, "episode": i, "seed": base_seed * 10 + i, "success": i < wins, "steps": 50, "status": "ok"}
            for i in range(4)}
    EpisodeStore(folder).write_csv(rows)
    return folder


@pytest.mark.parametrize("with_id", [True, False], ids=["settings_id column", "older run: from config.yaml"])
def test_runs_of_one_cell_with_other_settings_are_refused_naming_both(tmp_path, with_id):
    smoke = _run(tmp_path / "smoke", max_steps=5, wins=0, with_id=with_id)
    real = _run(tmp_path / "real", max_steps=200, wins=4, with_id=with_id)
    with pytest.raises(BenchError) as err:
        load_episodes(tmp_path)
    msg = str(err.value)
    assert str(smoke) in msg and str(real) in msg
    assert re.search(r"differ in max_steps \((200 vs 5|5 vs 200)\)$", msg, re.MULTILINE)
    assert "report them separately" in msg.lower() and "delete" in msg
    assert "out_dir" not in msg  # the run folder's path is not a setting
    assert report(real)["classic:success_rate"].tolist() == [1.0]  # one run alone is fine


def test_runs_with_the_same_settings_and_other_base_seeds_are_merged(tmp_path):
    _run(tmp_path / "a", base_seed=0, wins=4)
    _run(tmp_path / "b", base_seed=1, wins=0)
    table = report(tmp_path)
    assert table["classic:n"].tolist() == [8] and table["classic:success_rate"].tolist() == [0.5]


def test_the_same_episodes_in_two_runs_count_once(tmp_path, caplog):
    _run(tmp_path / "a", wins=4)
    _run(tmp_path / "b", wins=0)  # a repeat of the same run (same settings, same base seed)
    table = report(tmp_path)
    assert table["classic:n"].tolist() == [4] and table["classic:success_rate"].tolist() == [1.0]
    assert "4 episodes appear in more than one run; keeping the first" in caplog.text


def test_comparison_csv_keeps_its_format_with_a_privileged_column_per_agent(tmp_path):
    _run(tmp_path / "classic")
    _run(tmp_path / "oracle", agent="oracle")
    report(tmp_path)
    text = (tmp_path / "comparison.csv").read_text().splitlines()
    assert text[0] == ("task,camera,magnitude,calibration,scene,factors,"
                       "classic:success_rate,classic:ci_low,classic:ci_high,classic:n,classic:errors,"
                       "classic:privileged,oracle:success_rate,oracle:ci_low,oracle:ci_high,oracle:n,"
                       "oracle:errors,oracle:privileged")
    assert text[1] == ("place,nominal,0.0,true,lean,nominal,1.0,0.5101091635454025,1.0,4,0,False,"
                       "1.0,0.5101091635454025,1.0,4,0,True")  # statsmodels' Wilson (the last digits moved)


def test_an_agent_privileged_in_one_run_and_not_in_another_is_refused():
    df = _episodes()
    df["privileged"] = df.index % 2 == 0
    with pytest.raises(BenchError, match="privileged"):
        comparison_table(summarize(df))


def test_a_settings_id_that_looks_like_a_number_stays_text(tmp_path):
    _run(tmp_path / "a", sid="0123e4567890")
    _run(tmp_path / "b", sid="0123e4567890", base_seed=1)
    assert load_episodes(tmp_path)["settings_id"].unique().tolist() == ["0123e4567890"]


def _axis_episodes(folder: Path) -> None:
    """Two agents on the same 40 episodes per level of two axes; the classic one falls with the clutter."""
    rng = np.random.default_rng(0)
    rows, n = [], 40
    levels = [("nominal", None), ("clutter=1", 1), ("clutter=2", 2), ("clutter=4", 4), ("language=heldout", None)]
    for agent in ("classic", "oracle"):
        for factors, clutter in levels:
            p = 1.0 if agent == "oracle" or clutter is None else 1 / (1 + np.exp(2.5 * (clutter - 2.5)))
            for i in range(n):
                rows.append({"agent": agent, "task": "place", "camera": "nominal", "magnitude": 0.0,
                             "calibration": "true", "scene": "lean", "factors": factors,
                             "privileged": agent == "oracle",
                             "settings_id": f"{agent}-{factors}", "base_seed": 0, "episode": i, "seed": i,
                             "success": bool(rng.random() < p), "steps": 50, "status": "ok"})
    df = pd.DataFrame(rows)
    for (agent, factors), g in df.groupby(["agent", "factors"]):
        run = folder / f"{agent}_{factors.replace('=', '_')}"
        EpisodeStore(run.mkdir(parents=True) or run).write_csv(dict(enumerate(g.to_dict("records"))))


def test_axes_get_breaking_points_paired_comparisons_and_plots(tmp_path):
    _axis_episodes(tmp_path)
    report(tmp_path)
    bp = pd.read_csv(tmp_path / "breaking_points.csv")
    clutter = bp[bp.axis == "clutter"].set_index("agent")
    assert clutter.loc["classic", "status"] == "fitted" and clutter.loc["classic", "levels"] == "0.0;1.0;2.0;4.0"
    assert 1.5 < clutter.loc["classic", "breaking_point"] < 3.5
    classic = clutter.loc["classic"]
    assert classic["ci_low"] < classic["breaking_point"] < classic["ci_high"]
    assert clutter.loc["oracle", "status"] == "not reached"
    assert set(bp[bp.axis == "language"]["status"]) == {"categorical"}
    pairs = pd.read_csv(tmp_path / "paired.csv")
    worst = pairs[pairs.factors == "clutter=4"].iloc[0]
    assert (worst.agent_a, worst.agent_b, worst.n_pairs) == ("classic", "oracle", 40)
    assert worst["diff"] < 0 and worst.ci_high < 0 and worst.mcnemar_p < 0.001
    assert pairs[pairs.factors == "nominal"].iloc[0].mcnemar_p == 1.0
    assert (tmp_path / "axis_clutter.png").stat().st_size > 0 and (tmp_path / "axis_language.png").exists()


def test_runs_from_before_factors_report_as_nominal(tmp_path):
    run = _run(tmp_path / "old")
    df = pd.read_csv(run / "episodes.csv")
    df.drop(columns=[c for c in ("factors",) if c in df]).to_csv(run / "episodes.csv", index=False)
    assert report(tmp_path)["factors"].tolist() == ["nominal"]


def test_tables_md_gives_the_published_tables_in_reading_order(tmp_path):
    _axis_episodes(tmp_path)
    report(tmp_path, calibration_columns=True, pairs=[("oracle", "classic")])
    md = (tmp_path / "tables.md").read_text()
    success = md.split("## Success")[1].split("## Breaking")[0]
    conditions = [line.split(" | ")[0].lstrip("| ") for line in success.splitlines() if line.startswith("| ")][1:]
    assert conditions == ["nominal", "clutter 1 objects", "clutter 2 objects", "clutter 4 objects",
                          "language heldout instruction set"]  # numeric order within an axis, nominal first
    episodes = load_episodes(tmp_path)
    k = int(episodes[(episodes.agent == "classic") & (episodes.factors == "clutter=4")]["success"].sum())
    assert f"| clutter 4 objects | {k}/40 (" in success and "| 40/40 (91-100%) |" in success
    bp = pd.read_csv(tmp_path / "breaking_points.csv").set_index(["axis", "agent"]).loc[("clutter", "classic")]
    assert f"| {bp.breaking_point:.3g} ({bp.ci_low:.3g}-{bp.ci_high:.3g}) |" in md
    paired_rows = [line for line in md.split("## Paired")[1].splitlines() if line.startswith("| ") and "pts" in line]
    assert len(paired_rows) == 5 and all("| oracle - classic |" in r for r in paired_rows)  # as asked: a is oracle
    pairs = pd.read_csv(tmp_path / "paired.csv").set_index("factors").loc["clutter=4"]
    assert (pairs.agent_a, pairs.agent_b) == ("classic", "oracle") and pairs["diff"] < 0
    assert f"| {round(-100 * pairs['diff']):+d} pts ({round(-100 * pairs.ci_high):+d} to " \
           f"{round(-100 * pairs.ci_low):+d}) |" in paired_rows[3]
    assert "-0 pts" not in md


def test_pairs_option_names_its_form():
    from eval.report import main

    with pytest.raises(SystemExit):
        main(["somewhere", "--pairs", "classic"])


def test_tables_md_splits_a_pointing_agents_failures_by_where_its_lifted_points_fell():
    from eval.tables import diagnostics_markdown

    rows = []
    for cal, errs, inside, wins in [("true", [1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], [1, 1, 1, 0]),
                                    ("nominal", [1.0, 1.0, 2.0, 30.0], [1, 0, 0, 0], [1, 0, 0, 0])]:
        for i in range(4):
            rows.append({"agent": "pointer", "task": "place_single", "camera": "shifted", "magnitude": 3.0,
                         "calibration": cal, "scene": "lean", "factors": "nominal", "status": "ok",
                         "success": bool(wins[i]), "point_err_px": errs[i], "lift_in_footprint": inside[i]})
    rows.append({**rows[0], "agent": "act", "point_err_px": None, "lift_in_footprint": None})  # never points
    md = diagnostics_markdown(pd.DataFrame(rows))
    lines = [line for line in md.splitlines() if "pointer@" in line]
    assert len(lines) == 2 and not any("act@" in line for line in md.splitlines())
    stale = next(line for line in lines if "pointer@nominal" in line)
    assert "| shifted 3 cm | pointer@nominal | 4 | 1.50 (" in stale and "| 25% | 3: 3 / 0 |" in stale
    true = next(line for line in lines if "pointer@true" in line)
    assert "| 2.50 (" in true and "| 100% | 1: 0 / 1 |" in true
    assert "no agent pointed" in diagnostics_markdown(pd.DataFrame(rows[-1:]))


def test_tables_md_names_episodes_without_an_outcome():
    from eval.tables import success_markdown

    df = _episodes()
    df.loc[0, "status"], df.loc[1, "status"] = "error", "timeout"
    md = success_markdown(summarize(df))
    assert "| 2/2 (34-100%), 1 errors and 1 timeouts not counted |" in md  # classic@true, nominal
    assert md.count("not counted") == 1


def test_report_writes_into_out_and_leaves_the_runs_alone(tmp_path):
    runs, published = tmp_path / "runs", tmp_path / "published"
    _axis_episodes(runs)
    before = sorted(p.relative_to(runs) for p in runs.rglob("*"))
    table = report(runs, pairs=[("oracle", "classic")], out=published)
    assert sorted(p.relative_to(runs) for p in runs.rglob("*")) == before  # nothing written beside the cells
    names = {p.name for p in published.iterdir()}
    assert {"comparison.csv", "comparison.png", "breaking_points.csv", "paired.csv", "tables.md"} <= names
    written = pd.read_csv(published / "comparison.csv")
    assert list(written.columns) == list(table.columns) and len(written) == len(table) > 0
    assert (published / "tables.md").read_text().startswith("# published: base seeds")
