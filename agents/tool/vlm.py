"""Any VLM behind an OpenAI-compatible chat endpoint (vLLM, SGLang, Ollama, LM Studio ...) as the tool
agent's reasoner, through the real ``openai`` package.

The same reasoner protocol as ``gemini`` and ``classic``:
- pointing: the image (sized the way the model's processor would size it, see
  :func:`agents.tool.pointing.model_input_size`) and a prompt in the family's wording; the answer is read
  in the family's pointing convention (``point_format``; by default inferred from the model name);
- planning: ``move(x, y, high)`` / ``setGripperState(opened)`` as native tool calls (``plan_mode=tools``)
  or, for servers and models without tool calling, a JSON plan in the text (``plan_mode=json``); each call
  is answered with its real outcome and the model's turns go back unchanged; plan coordinates are 0-1000 of
  the image, x to the right, y down, for every family;
- the outcome check: a fresh image and the question whether the instruction is carried out.

Errors: the SDK retries 408/409/429/5xx and connection errors with backoff (``retries``).  A server that
cannot be reached, refuses the key (401/403) or does not serve the model stops the whole run at once
(:class:`FatalAgentError`, checked in ``prepare`` before any episode); an answer that cannot be read is a
failed step (no points, no plan) for that episode, never a crash.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
from typing import Any

import numpy as np
from PIL import Image

from agents.errors import AgentError, FatalAgentError
from agents.tool.cache import AnswerCache
from agents.tool.gemini import parse_json_lenient
from agents.tool.perception import parse_instruction
from agents.tool.pointing import POINT_FORMATS, infer_point_format, model_input_size, parse_points, point_prompt
from agents.tool.types import Call, CallResult, Detection, pixel_to_norm
from envs.errors import ConfigError, check_choice

log = logging.getLogger(__name__)

PLAN_MODES = ("tools", "json")
KEY_VARIABLE = "OPENAI_API_KEY"
LOCAL_KEY = "EMPTY"  # local servers accept any key; vLLM's docs use this one

PLAN_PROMPT = (
    "You control a robot arm with a parallel gripper above a table, seen in this image.\n"
    "Objects found in the image (x, y normalised to 0-1000, x to the right, y down):\n{objects}\n"
    "Carry out the instruction \"{instruction}\" with these functions, in order. move(x, y, high) moves the "
    "gripper over image point (x, y) (0-1000): high=true lifts it above the scene for travel, high=false "
    "lowers it onto the object or surface there to grasp or release. setGripperState(opened) opens (true) "
    "or closes (false) the gripper. A task of several steps is one pick and one place after another, each "
    "object released before the next is picked. Each call is answered with its real outcome. "
    "When the instruction is carried out, reply DONE."
)
JSON_PLAN = (
    '\nAnswer with JSON only: {"calls": [{"name": "move", "args": {"x": 500, "y": 400, "high": true}}, '
    '{"name": "setGripperState", "args": {"opened": false}}, ...]}; an empty list when the instruction is '
    "carried out."
)
DONE_PROMPT = ('Is this instruction fully carried out in the image: "{instruction}"? Look at where the objects '
               'are now. Answer with JSON {{"done": true}} or {{"done": false}}.')

TOOLS = [
    {"type": "function", "function": {
        "name": "move", "description": "Move the gripper over an image point (0-1000); high=true travels above "
                                       "the scene, high=false lowers onto what is there.",
        "parameters": {"type": "object", "required": ["x", "y", "high"], "properties": {
            "x": {"type": "integer", "minimum": 0, "maximum": 1000},
            "y": {"type": "integer", "minimum": 0, "maximum": 1000},
            "high": {"type": "boolean"}}}}},
    {"type": "function", "function": {
        "name": "setGripperState", "description": "Open (true) or close (false) the gripper.",
        "parameters": {"type": "object", "required": ["opened"],
                       "properties": {"opened": {"type": "boolean"}}}}},
]


class VLMReasoner:
    name = "vlm"

    def __init__(self, model: str, base_url: str = "http://127.0.0.1:8000/v1", api_key: str | None = None,
                 point_format: str | None = None, plan_mode: str = "tools", temperature: float | None = 0.0,
                 max_tokens: int = 1024, retries: int = 3, timeout_s: float = 120.0,
                 price_in_per_mtok: float = 0.0, price_out_per_mtok: float = 0.0,
                 cache_dir: str | None = "~/.cache/vla-agent-bench/vlm"):
        """``api_key``: for programmatic use only; runs read ``OPENAI_API_KEY`` (any value for local servers,
        ``EMPTY`` when unset).  Never logged or stored here."""
        import openai

        if not model:
            raise ConfigError("agent=vlm needs agent.reasoner.model (the name the server serves, e.g. "
                              "Qwen/Qwen3-VL-8B-Instruct)")
        self.plan_mode = check_choice("agent.reasoner.plan_mode", plan_mode, PLAN_MODES)
        chosen = point_format or infer_point_format(model)
        if chosen is None:
            raise ConfigError(f"cannot tell the pointing convention of model {model!r} from its name: set "
                              f"agent.reasoner.point_format to one of {', '.join(POINT_FORMATS)}")
        self.point_format = check_choice("agent.reasoner.point_format", chosen, POINT_FORMATS)
        self.model, self.base_url = model, base_url.rstrip("/")
        self.temperature, self.max_tokens = temperature, max_tokens
        self.prices = (price_in_per_mtok, price_out_per_mtok)
        self.client = openai.OpenAI(base_url=self.base_url,
                                    api_key=api_key or os.environ.get(KEY_VARIABLE) or LOCAL_KEY,
                                    max_retries=retries, timeout=timeout_s)
        self.cache = AnswerCache(cache_dir)
        self._checked = False
        log.info("vlm reasoner: model %s at %s, point format %s (%s), plans as %s", model, self.base_url,
                 self.point_format, "set" if point_format else "inferred from the model name", self.plan_mode)
        self.reset()

    # --- reasoner protocol -------------------------------------------------
    def prepare(self) -> None:
        """Before any episode: the server answers, accepts the key and serves the model; else stop the run."""
        if self._checked:
            return
        import openai

        try:
            served = [m.id for m in self.client.models.list()]
        except openai.APIConnectionError as e:
            raise FatalAgentError(f"no OpenAI-compatible server answers at agent.reasoner.base_url="
                                  f"{self.base_url} ({e}); start one (vllm serve ..., ollama serve) or fix "
                                  "base_url") from e
        except openai.APIStatusError as e:
            raise _fatal_or_none(e, self.model, self.base_url) or AgentError(str(e)) from e
        if served and self.model not in served and f"{self.model}:latest" not in served:  # Ollama's default tag
            raise FatalAgentError(f"the server at {self.base_url} does not serve model {self.model!r} (it serves "
                                  f"{', '.join(served[:8])}); set agent.reasoner.model to one of them")
        self._checked = True

    def reset(self) -> None:
        self.history: list[dict] = []
        self._stats = {"reasoner_calls": 0, "cache_hits": 0, "tokens_in": 0, "tokens_out": 0, "latency_s": 0.0,
                       "cost_usd": 0.0, "unreadable_answers": 0}

    def counters(self) -> dict:
        return {**self._stats, "latency_s": round(self._stats["latency_s"], 3),
                "cost_usd": round(self._stats["cost_usd"], 6)}

    def point(self, image: np.ndarray, instruction: str) -> list[Detection]:
        h, w = image.shape[:2]
        sent = model_input_size(self.point_format, w, h)
        objects = parse_instruction(instruction).labels or None
        text = self._text(self._chat([self._user(image, point_prompt(self.point_format, instruction, objects),
                                                 sent)]))
        dets = parse_points(self.point_format, text, w, h, sent)
        if not dets and text.strip():
            self._stats["unreadable_answers"] += 1
            log.info("pointing answer with no readable %s points: %.200r", self.point_format, text)
        return dets

    def start_plan(self, image: np.ndarray, instruction: str, dets: list[Detection]) -> list[Call]:
        h, w = image.shape[:2]
        objects = "\n".join(f"- {d.label}: x={pixel_to_norm(d.pixel, w, h)[1]}, y={pixel_to_norm(d.pixel, w, h)[0]}"
                            for d in dets)
        prompt = PLAN_PROMPT.format(objects=objects, instruction=instruction)
        if self.plan_mode == "json":
            prompt += JSON_PLAN
        self.history = [self._user(image, prompt, (w, h))]
        return self._plan_turn()

    def continue_plan(self, results: list[CallResult]) -> list[Call]:
        if not results or not self.history:
            return []
        if self.plan_mode == "tools":
            self.history += [{"role": "tool", "tool_call_id": r.call.id or "", "content": json.dumps(r.response())}
                             for r in results]
        else:
            self.history.append({"role": "user", "content": "Results: " + json.dumps(
                [{"name": r.call.name, "args": r.call.args, **r.response()} for r in results]) + JSON_PLAN})
        return self._plan_turn()

    def check_done(self, image: np.ndarray, instruction: str) -> bool | None:
        h, w = image.shape[:2]
        answer = parse_json_lenient(self._text(self._chat([self._user(image, DONE_PROMPT.format(
            instruction=instruction), (w, h))])))
        done = answer.get("done") if isinstance(answer, dict) else None
        return done if isinstance(done, bool) else None

    # --- requests ----------------------------------------------------------
    def _plan_turn(self) -> list[Call]:
        message = self._message(self._chat(self.history, tools=self.plan_mode == "tools"))
        if message is None:
            return []
        self.history.append(message)  # the model's turn goes back unchanged
        if self.plan_mode == "tools":
            calls = []
            for tc in message.get("tool_calls") or []:
                fn = tc.get("function") or {}
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = None
                # unreadable arguments still go to the agent, which answers the call with an error status
                calls.append(Call(str(fn.get("name")), args if isinstance(args, dict) else {}, tc.get("id")))
            return calls
        plan = parse_json_lenient(message.get("content") or "")
        items = plan.get("calls") if isinstance(plan, dict) else plan
        if not isinstance(items, list):
            self._stats["unreadable_answers"] += 1
            return []
        return [Call(str(c.get("name")), dict(c["args"]) if isinstance(c.get("args"), dict) else {}, f"call-{i}")
                for i, c in enumerate(items) if isinstance(c, dict)]

    def _user(self, image: np.ndarray, text: str, size: tuple[int, int]) -> dict:
        img = Image.fromarray(image)
        if img.size != size:
            img = img.resize(size, Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                            {"type": "text", "text": text}]}

    def _chat(self, messages: list[dict], tools: bool = False) -> dict:
        """One chat completion as a plain dict (cached by endpoint, model, request and image bytes)."""
        request: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens}
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if tools:
            request.update(tools=TOOLS, tool_choice="auto")
        key = AnswerCache.key(self.base_url, request)
        cached = self.cache.get(key)
        if cached is not None:
            self._stats["cache_hits"] += 1
            return cached
        self.prepare()
        import openai

        start = time.perf_counter()
        try:
            resp = self.client.chat.completions.create(**request).model_dump(mode="json", exclude_none=True)
        except openai.APIStatusError as e:
            raise _fatal_or_none(e, self.model, self.base_url) or AgentError(
                f"{self.base_url} answered {e.status_code}: {e.message}") from e
        except openai.APIConnectionError as e:
            raise AgentError(f"lost the server at {self.base_url}: {e}") from e
        self._stats["latency_s"] += time.perf_counter() - start
        self._stats["reasoner_calls"] += 1
        usage = resp.get("usage") or {}
        t_in, t_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        self._stats["tokens_in"] += t_in
        self._stats["tokens_out"] += t_out
        self._stats["cost_usd"] += (t_in * self.prices[0] + t_out * self.prices[1]) / 1e6
        self.cache.put(key, resp)
        return resp

    @staticmethod
    def _message(resp: dict) -> dict | None:
        choices = resp.get("choices") or []
        return choices[0].get("message") if choices and isinstance(choices[0], dict) else None

    def _text(self, resp: dict) -> str:
        message = self._message(resp) or {}
        content = message.get("content")
        if isinstance(content, list):  # some servers answer with content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else ""


def _fatal_or_none(e, model: str, base_url: str) -> FatalAgentError | None:
    """401/403 and an unknown model end the run; other statuses are this episode's problem."""
    body = json.dumps(getattr(e, "body", None) or "").lower()
    if e.status_code in (401, 403):
        return FatalAgentError(f"the server at {base_url} refused the key ({e.status_code}): set OPENAI_API_KEY "
                               "to a key it accepts (local servers accept any value)")
    if e.status_code == 404 or (e.status_code == 400 and "model" in body and ("not" in body or "exist" in body)):
        return FatalAgentError(f"the server at {base_url} does not serve model {model!r} ({e.status_code}: "
                               f"{e.message}); set agent.reasoner.model to a model it serves")
    return None
