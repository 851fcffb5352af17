"""Gemini Robotics-ER reasoner through the ``google-genai`` SDK.

Three kinds of request, the first two as in the seed's pipeline, done the SDK's way:
- pointing: the image and the instruction; JSON output with a schema
  (``[{"point": [y, x], "label": ..., "box_2d": [...]}]``, 0-1000), with a
  lenient parser for answers that ignore the schema;
- planning: native function calling (``move``, ``setGripperState``); the agent
  executes each call and answers with a function response carrying its real
  status, and the model's own turns go back unchanged (they carry the thought
  signatures the API requires);
- the outcome check: after a plan, a fresh image and the question whether the
  instruction is carried out (JSON ``{"done": bool}``).

Retries with backoff on 408/429/5xx and connection errors are the SDK's
(``HttpRetryOptions``).  400/401/403/404 raise :class:`FatalAgentError`: a bad
or forbidden key or a retired model fails every episode alike, so the run stops.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from typing import Any

import numpy as np
from PIL import Image

from agents.errors import FatalAgentError
from agents.tool.cache import AnswerCache
from agents.tool.types import Call, CallResult, Detection, detection_from_wire, pixel_to_norm
from envs.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gemini-robotics-er-2-preview"
RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]
FATAL_STATUS_CODES = (400, 401, 403, 404)
THINKING_LEVELS = ("minimal", "low", "medium", "high", "xhigh")
KEY_VARIABLES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")  # the SDK's precedence: GOOGLE_API_KEY wins
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"  # the SDK's, without base_url or the variable

POINT_PROMPT = (
    'Point to each object that this instruction involves: "{instruction}".\n'
    'That is every object to be moved and every place it goes; for an instruction about each or all of the '
    'blocks, every block and every mat or tray. When the instruction singles one object out among look-alikes '
    '(by position, order, size or what it is next to), point to that one only. Left and right are the '
    'robot\'s own, as it faces the table.\n'
    'Answer with a JSON list [{{"point": [y, x], "label": "<colour> <block|target>" or "tray", '
    '"box_2d": [ymin, xmin, ymax, xmax]}}], coordinates normalised to 0-1000. Flat coloured '
    'mats are targets; cubes are blocks; the flat grey square is the tray. Leave out objects you cannot see.'
)
PLAN_PROMPT = (
    "You control a robot arm with a parallel gripper above a table, seen in this image.\n"
    "Objects found in the image (x, y normalised to 0-1000, x to the right, y down):\n{objects}\n"
    "Carry out the instruction \"{instruction}\" by calling the functions in order. move(x, y, high) "
    "moves the gripper over image point (x, y): high=true lifts it above the scene for travel, "
    "high=false lowers it onto the object or surface there to grasp or release. "
    "setGripperState(opened) opens (true) or closes (false) the gripper. An instruction of several steps "
    "(several objects, a stack of three) is one pick and one place after another, each object released "
    "before the next is picked; a point you put an object at keeps it there for later steps. You may issue "
    "several calls at once; each is answered with its real outcome. When the instruction is carried out, "
    "reply with the single word DONE."
)
DONE_PROMPT = (
    'Is this instruction fully carried out in the image: "{instruction}"? Look at where the objects are '
    'now. Answer with JSON {{"done": true}} or {{"done": false}}.'
)
DONE_SCHEMA = {"type": "OBJECT", "required": ["done"], "properties": {"done": {"type": "BOOLEAN"}}}


def _function_declarations(types):
    coord = {"type": "INTEGER", "minimum": 0, "maximum": 1000}
    return [types.Tool(function_declarations=[
        types.FunctionDeclaration(
            name="move", description="Move the gripper over an image point; high=true travels above the scene.",
            parameters=types.Schema.model_validate({
                "type": "OBJECT", "required": ["x", "y", "high"],
                "properties": {"x": coord, "y": coord, "high": {"type": "BOOLEAN"}}})),
        types.FunctionDeclaration(
            name="setGripperState", description="Open (true) or close (false) the gripper.",
            parameters=types.Schema.model_validate({
                "type": "OBJECT", "required": ["opened"], "properties": {"opened": {"type": "BOOLEAN"}}})),
    ])]


POINT_SCHEMA = {
    "type": "ARRAY",
    "items": {"type": "OBJECT", "required": ["point", "label"], "properties": {
        "point": {"type": "ARRAY", "items": {"type": "INTEGER"}},
        "label": {"type": "STRING"},
        "box_2d": {"type": "ARRAY", "items": {"type": "INTEGER"}}}},
}


def api_key_present() -> bool:
    return any(os.environ.get(v) for v in KEY_VARIABLES)


def endpoint(base_url: str | None) -> str:
    """The server that answers, as the SDK chooses it: ``base_url``, else ``GOOGLE_GEMINI_BASE_URL``, else
    Google's; with the API version (``GOOGLE_GENAI_API_VERSION``, else the SDK's default)."""
    url = base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or DEFAULT_BASE_URL
    return f"{url.rstrip('/')} api_version={os.environ.get('GOOGLE_GENAI_API_VERSION') or 'default'}"


class GeminiReasoner:
    name = "gemini"

    def __init__(self, model: str = DEFAULT_MODEL, base_url: str | None = None, api_key: str | None = None,
                 thinking_level: str | None = "low", temperature: float | None = None, retries: int = 5,
                 retry_initial_delay_s: float = 1.0, timeout_s: float = 120.0,
                 cache_dir: str | None = "~/.cache/vla-agent-bench/gemini"):
        """``api_key``: for programmatic use only; never logged or stored here (runs read the environment)."""
        from google import genai
        from google.genai import types

        if not (api_key or api_key_present()):
            raise FatalAgentError("agent=gemini needs an API key: export GEMINI_API_KEY=... (or GOOGLE_API_KEY), "
                                  "or evaluate offline with agent=classic")
        if thinking_level is not None and thinking_level.lower() not in THINKING_LEVELS:
            raise ConfigError(f"unknown thinking_level {thinking_level!r}; valid: {', '.join(THINKING_LEVELS)}, null")
        self.types, self.model = types, model
        self.thinking_level, self.temperature = thinking_level, temperature
        retry = types.HttpRetryOptions(attempts=retries, initial_delay=retry_initial_delay_s, max_delay=30.0,
                                       http_status_codes=RETRY_STATUS_CODES)
        http = types.HttpOptions(timeout=int(timeout_s * 1000), retry_options=retry)
        if base_url:  # else the SDK's default, so GOOGLE_GEMINI_BASE_URL keeps working
            http.base_url = base_url
        self.client = genai.Client(api_key=api_key, http_options=http) if api_key \
            else genai.Client(http_options=http)
        self.endpoint = endpoint(base_url)  # answers are cached per endpoint and model
        self.cache = AnswerCache(cache_dir)
        self.reset()

    # --- reasoner protocol -------------------------------------------------
    def prepare(self) -> None:
        pass  # the key was checked at construction; a bad one stops the run at its first call

    def reset(self) -> None:
        self.history: list = []
        self._stats = {"reasoner_calls": 0, "cache_hits": 0, "tokens_in": 0, "tokens_out": 0,
                       "tokens_thought": 0, "latency_s": 0.0}

    def counters(self) -> dict:
        return {**self._stats, "latency_s": round(self._stats["latency_s"], 3)}

    def point(self, image: np.ndarray, instruction: str) -> list[Detection]:
        h, w = image.shape[:2]
        items = self._ask_json(image, POINT_PROMPT.format(instruction=instruction), POINT_SCHEMA, list)
        dets = [d for d in (detection_from_wire(i, w, h) for i in (items or []) if isinstance(i, dict)) if d]
        log.debug("pointing: %s", [(d.label, d.pixel.round(1).tolist()) for d in dets])
        return dets

    def start_plan(self, image: np.ndarray, instruction: str, dets: list[Detection]) -> list[Call]:
        t = self.types
        h, w = image.shape[:2]
        objects = "\n".join(f"- {d.label}: x={pixel_to_norm(d.pixel, w, h)[1]}, y={pixel_to_norm(d.pixel, w, h)[0]}"
                            for d in dets)
        prompt = PLAN_PROMPT.format(objects=objects, instruction=instruction)
        self.history = [t.Content(role="user", parts=[self._image_part(image), t.Part.from_text(text=prompt)])]
        return self._plan_turn()

    def continue_plan(self, results: list[CallResult]) -> list[Call]:
        if not results or not self.history:
            return []
        t = self.types
        parts = [t.Part(function_response=t.FunctionResponse(id=r.call.id, name=r.call.name, response=r.response()))
                 for r in results]
        self.history.append(t.Content(role="user", parts=parts))
        return self._plan_turn()

    def check_done(self, image: np.ndarray, instruction: str) -> bool | None:
        """Ask the model whether the instruction is carried out; None if its answer says neither."""
        answer = self._ask_json(image, DONE_PROMPT.format(instruction=instruction), DONE_SCHEMA, dict)
        done = answer.get("done") if isinstance(answer, dict) else None
        log.debug("done check: %r", done)
        return done if isinstance(done, bool) else None

    # --- requests ----------------------------------------------------------
    def _ask_json(self, image: np.ndarray, prompt: str, schema: dict, kind: type) -> Any:
        """One image and a question answered as JSON with ``schema``: the parsed answer if it is a ``kind``,
        else whatever the lenient parser finds in the text."""
        t = self.types
        contents = [t.Content(role="user", parts=[self._image_part(image), t.Part.from_text(text=prompt)])]
        config = self._config(response_mime_type="application/json",
                              response_schema=t.Schema.model_validate(schema))
        resp = self._generate(contents, config)
        return resp.parsed if isinstance(resp.parsed, kind) else parse_json_lenient(resp.text or "")

    def _plan_turn(self) -> list[Call]:
        resp = self._generate(self.history, self._config(tools=_function_declarations(self.types)))
        if not resp.candidates or resp.candidates[0].content is None:
            return []
        self.history.append(resp.candidates[0].content)  # unchanged: carries thought signatures
        return [Call(fc.name, dict(fc.args or {}), fc.id) for fc in (resp.function_calls or [])]

    def _config(self, **kw):
        t = self.types
        if self.thinking_level:
            kw["thinking_config"] = t.ThinkingConfig(thinking_level=self.thinking_level.upper())
        if self.temperature is not None:
            kw["temperature"] = self.temperature
        return t.GenerateContentConfig(**kw)

    def _image_part(self, image: np.ndarray):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        return self.types.Part.from_bytes(data=buf.getvalue(), mime_type="image/png")

    def _generate(self, contents: list, config):
        key = AnswerCache.key(self.endpoint, self.model,
                              [c.model_dump(mode="json", exclude_none=True) for c in contents],
                              config.model_dump(mode="json", exclude_none=True))
        cached = self._cached(key)
        if cached is not None:
            self._stats["cache_hits"] += 1
            return cached
        start = time.perf_counter()
        try:
            resp = self.client.models.generate_content(model=self.model, contents=contents, config=config)
        except Exception as e:
            fatal = _classify(e, self.model)
            if fatal is e:
                raise
            raise fatal from e
        self._stats["latency_s"] += time.perf_counter() - start
        self._stats["reasoner_calls"] += 1
        self._count_tokens(resp)
        self.cache.put(key, resp.model_dump(mode="json", exclude_none=True, exclude={"sdk_http_response", "parsed"}))
        return resp

    def _cached(self, key: str):
        from pydantic import ValidationError

        value = self.cache.get(key)
        if value is None:
            return None
        try:
            return self.types.GenerateContentResponse.model_validate(value)
        except ValidationError as e:
            log.warning("cached answer %s is not a response (%d errors): asking again", key[:12], e.error_count())
            return None

    def _count_tokens(self, resp) -> None:
        u = resp.usage_metadata
        if u is None:
            return
        self._stats["tokens_in"] += u.prompt_token_count or 0
        self._stats["tokens_out"] += u.candidates_token_count or 0
        self._stats["tokens_thought"] += u.thoughts_token_count or 0


def _classify(e: Exception, model: str) -> Exception:
    """Fatal for errors every episode would repeat; the original error otherwise."""
    from google.genai import errors

    if not isinstance(e, errors.ClientError) or e.code not in FATAL_STATUS_CODES:
        return e
    what = {400: "the request was rejected (bad API key or malformed request)",
            401: "the API key was not accepted", 403: "the API key may not use this model",
            404: f"model {model!r} was not found (retired? current: {DEFAULT_MODEL})"}[e.code]
    return FatalAgentError(f"Gemini API {e.code} {e.status or ''}: {what}; server said: {e.message}. "
                           "Fix the key (GEMINI_API_KEY / GOOGLE_API_KEY) or agent.model, then run again.")


def parse_json_lenient(text: str) -> Any:
    """JSON from a reply that may wrap it in prose or a markdown fence; None if there is none."""
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidates = [fence.group(1)] if fence else []
    candidates += [m.group(0) for m in re.finditer(r"\[.*\]|\{.*\}", text, re.DOTALL)]
    for c in candidates + [text]:
        try:
            return json.loads(c)
        except (json.JSONDecodeError, TypeError):
            continue
    return None
