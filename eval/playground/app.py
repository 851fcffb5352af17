"""The playground's Gradio page: a Run tab (one episode, frames as they come) and a Results tab (a results
folder's tables, plots, cells, episodes, videos and replays)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves this machine

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from envs.cameras import CALIBRATION_MODES, PERTURBATIONS  # noqa: E402
from envs.errors import BenchError, ConfigError  # noqa: E402
from envs.factors import AXES  # noqa: E402
from envs.tasks import TASKS  # noqa: E402
from envs.widowx_env import DEFAULT_TASK  # noqa: E402
from eval.playground import browse  # noqa: E402
from eval.playground.session import Choices, Playground, Result, agent_names, agent_note  # noqa: E402

log = logging.getLogger(__name__)

PROMPT_NOTE = ("A typed instruction goes to the agent as written (the tool agents plan from it); **success is "
               "still scored against the task's own goal**, shown in the outcome.  Empty: the task's instruction.")
WHOLE_FOLDER = "."


def _axes_help() -> str:
    rows = ["| axis | unit | nominal | valid | documented maximum |", "|---|---|---|---|---|"]
    for a in AXES.values():
        valid = ", ".join(a.valid) if a.categorical else f"{a.valid[0]:g} to {a.valid[1]:g}"
        rows.append(f"| `{a.name}` | {a.unit} | {a.nominal} | {valid} | {a.maximum} |")
    return "\n".join(rows)


def _camera_help() -> str:
    return "; ".join(f"`{n}` {p.valid[0]:g} to {p.valid[1]:g} {p.unit} (default {p.default:g})"
                     for n, p in PERTURBATIONS.items() if n != "nominal")


def _number(text: str | None, key: str, kind: type = float):
    """A typed number, None when empty; ConfigError naming the field otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{key} must be {'a whole number' if kind is int else 'a number'} or empty, "
                          f"got {text!r}") from None


def outcome_markdown(r: Result) -> str:
    if r.status != "ok":
        head = f"**ERROR** after {r.steps} steps: {r.error}"
    else:
        head = f"**{'SUCCESS' if r.success else 'FAILURE'}** after {r.steps} steps ({r.wall_s:.1f} s)"
    lines = [head, f"- agent `{r.agent}` was told: {r.instruction!r}", f"- scored against the task's goal: "
             f"{r.task_instruction!r}"]
    if r.first_frame_s is not None:
        lines.append(f"- first frame {r.first_frame_s:.2f} s after Run (server side)")
    if r.counters:
        lines.append("- counters: " + ", ".join(f"{k}={v}" for k, v in r.counters.items()))
    return "\n".join(lines)


def _verdict(success, status: str) -> str:
    return status if status != "ok" else "success" if bool(success) else "failure"


def calls_frame(calls: list[dict]) -> pd.DataFrame:
    cols = ["look", "call", "args", "status", "result"]
    return pd.DataFrame([{**c, "args": json.dumps(c["args"]), "result": json.dumps(c["result"])} for c in calls],
                        columns=cols)


def build(playground: Playground, results_root: Path) -> gr.Blocks:
    results_root = Path(results_root)
    with gr.Blocks(title="vla-agent-bench playground", analytics_enabled=False) as page:
        gr.Markdown("# vla-agent-bench playground")
        with gr.Tab("Run", id="run-tab"):
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    agent = gr.Dropdown(agent_names(), value="classic", label="Agent (agent=)", elem_id="agent")
                    note = gr.Markdown(agent_note("classic"))
                    task = gr.Dropdown(sorted(TASKS), value=DEFAULT_TASK, label="Task", elem_id="task")
                    camera = gr.Dropdown(list(PERTURBATIONS), value="nominal", label="Camera perturbation",
                                         elem_id="camera")
                    magnitude = gr.Textbox(label="Camera magnitude (empty: the perturbation's default)",
                                           info=_camera_help(), elem_id="magnitude")
                    calibration = gr.Radio(list(CALIBRATION_MODES), value="true", elem_id="calibration",
                                           label="Calibration the agent is told (true, or the stale nominal one)")
                    factors = gr.Textbox(label="Perturbation axes (axis=level ...)", elem_id="factors",
                                         placeholder="light_intensity=0.5 blur_px=1")
                    with gr.Accordion("Axes and their levels", open=False):
                        gr.Markdown(_axes_help())
                    seed = gr.Number(0, precision=0, minimum=0, label="Seed (episode 0 of eval.run seed=<seed>)",
                                     elem_id="seed")
                    max_steps = gr.Textbox(label="Max steps (empty: the task's horizon)", elem_id="max-steps")
                    extra = gr.Textbox(label="More overrides, as on eval.run's command line", elem_id="extra",
                                       placeholder="agent.reasoner.model=qwen2.5vl:7b agent.reasoner.base_url=...")
                with gr.Column(scale=2):
                    instruction = gr.Textbox(label="Instruction", elem_id="instruction",
                                             placeholder="empty: the task's own instruction")
                    gr.Markdown(PROMPT_NOTE)
                    with gr.Row():
                        run = gr.Button("Run", variant="primary", elem_id="run")
                        stop = gr.Button("Stop", elem_id="stop")
                    frame = gr.Image(label="primary (the agent's latest points) | third-person", format="jpeg",
                                     interactive=False, elem_id="frame")
                    outcome = gr.Markdown(elem_id="outcome")
                    conditions = gr.Dataframe(pd.DataFrame(columns=["condition", "met"]), label="Sub-conditions",
                                              interactive=False, elem_id="conditions")
                    calls = gr.Dataframe(calls_frame([]), label="The reasoner's calls and their results",
                                         interactive=False, wrap=True, elem_id="calls")
                    files = gr.File(label="Downloads: video (mp4), replay (rrd, open with `rerun`), record (json)",
                                    file_count="multiple", interactive=False, elem_id="downloads")

            def run_episode(agent_, task_, camera_, magnitude_, calibration_, factors_, seed_, max_steps_, extra_,
                            instruction_):
                yield {outcome: "running ...", frame: None, files: None, calls: calls_frame([]),
                       conditions: pd.DataFrame(columns=["condition", "met"])}
                try:
                    choices = Choices(agent_, task_, camera_, _number(magnitude_, "camera magnitude"), calibration_,
                                      factors_ or "", int(seed_ or 0), _number(max_steps_, "max steps", int),
                                      extra_ or "", instruction_ or "")
                    started = False
                    for u in playground.run(choices):
                        if u.frame is not None:
                            started = True
                            yield {frame: u.frame, outcome: f"running ... step {u.t}"}
                        elif u.error:
                            yield {outcome: f"**{'Error' if started else 'Could not start'}:** {u.error}"}
                        elif u.result is not None:
                            r = u.result
                            yield {outcome: outcome_markdown(r), calls: calls_frame(r.calls),
                                   conditions: pd.DataFrame(list(r.conditions.items()), columns=["condition", "met"]),
                                   files: [str(p) for p in (r.video, r.replay, r.trace) if p is not None]}
                except BenchError as e:
                    yield {outcome: f"**Could not start:** {e}"}

            inputs = [agent, task, camera, magnitude, calibration, factors, seed, max_steps, extra, instruction]
            running = run.click(run_episode, inputs, [frame, outcome, conditions, calls, files], concurrency_limit=1)
            stop.click(None, None, None, cancels=[running])
            agent.change(agent_note, agent, note)

        with gr.Tab("Results", id="results-tab"):
            gr.Markdown(f"Results folders under `{results_root}` (the `--results` flag): a report "
                        "(`comparison.csv`, plots) or runs of `eval.run` (`episodes.csv`, videos, replays).")
            with gr.Row():
                folder = gr.Dropdown([WHOLE_FOLDER, *browse.result_folders(results_root)], value=None,
                                     label="Folder", elem_id="folder")
                refresh = gr.Button("Refresh the list", elem_id="refresh")
            source = gr.Markdown(elem_id="table-source")
            table = gr.Dataframe(label="Comparison", interactive=False, elem_id="results-table")
            plots = gr.Gallery(label="Plots", columns=2, visible=False, elem_id="plots")
            cell = gr.Dropdown([], label="Cell (its episodes)", elem_id="cell")
            episodes = gr.Dataframe(label="Episodes of the cell", interactive=False, elem_id="cell-episodes")
            episode = gr.Dropdown([], label="Episode", elem_id="episode")
            with gr.Row():
                video = gr.Video(label="Video (primary | third-person)", interactive=False, elem_id="episode-video")
                record = gr.JSON(label="Record (its episodes.csv row)", elem_id="episode-record")
            trace = gr.Dataframe(calls_frame([]), label="The reasoner's calls and their results", interactive=False,
                                 wrap=True, elem_id="episode-calls")
            replay = gr.File(label="Replay (.rrd)", interactive=False, elem_id="episode-replay")

            def open_folder(rel):
                if not rel:
                    return {source: ""}
                try:
                    f = browse.load(browse.inside(results_root, rel))
                except BenchError as e:
                    return {source: f"**{e}**", table: None, plots: gr.update(value=[], visible=False),
                            cell: gr.update(choices=[], value=None)}
                cells = f.cells()
                note_ = f"table: `{f.table_source}`; {len(f.episodes)} episodes in {len(cells)} cells" \
                    if cells else f"table: `{f.table_source}`; no episodes.csv under this folder (a published " \
                                  "report keeps only its tables)"
                return {source: note_, table: f.table, plots: gr.update(value=[str(p) for p in f.plots],
                                                                        visible=bool(f.plots)),
                        cell: gr.update(choices=cells, value=cells[0] if cells else None)}

            def open_cell(rel, cell_):
                if not rel or not cell_:
                    return {episodes: None, episode: gr.update(choices=[], value=None)}
                e = browse.load(browse.inside(results_root, rel)).cell_episodes(cell_)
                labels = [(f"{r.episode} ({r.run}): {_verdict(r.success, r.status)}", i)
                          for i, r in enumerate(e.itertuples())]
                return {episodes: e, episode: gr.update(choices=labels, value=0 if labels else None)}

            def open_episode(rel, cell_, index):
                if not rel or not cell_ or index is None:
                    return {video: None, record: None, replay: None, trace: calls_frame([])}
                ep = browse.load(browse.inside(results_root, rel)).episode(cell_, int(index))
                calls_ = json.loads(ep["trace"].read_text())["calls"] if ep["trace"] else []
                return {video: str(ep["video"]) if ep["video"] else None, record: ep["record"],
                        replay: str(ep["replay"]) if ep["replay"] else None, trace: calls_frame(calls_)}

            refresh.click(lambda: gr.update(choices=[WHOLE_FOLDER, *browse.result_folders(results_root)]), None,
                          folder)
            folder.change(open_folder, folder, [source, table, plots, cell])
            cell.change(open_cell, [folder, cell], [episodes, episode])
            episode.change(open_episode, [folder, cell, episode], [video, record, replay, trace])
    return page


def launch(playground: Playground, results_root: Path, host: str, port: int, allowed: list[Path]) -> None:
    page = build(playground, results_root)
    page.queue().launch(server_name=host, server_port=port, share=False, show_error=True,
                        allowed_paths=[str(p.resolve()) for p in allowed])
