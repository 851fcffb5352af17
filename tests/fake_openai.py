"""A local HTTP server that speaks the OpenAI chat API as vLLM, SGLang or Ollama serve it (``/v1/models``,
``/v1/chat/completions`` with images as data URLs and tool calls, streaming off).

The real ``openai`` client talks to it over 127.0.0.1.  It serves VLMs of several families: each model
answers pointing requests by segmenting the image it was sent and writing the points in its family's own
convention (:func:`agents.tool.pointing.write_points`, for the image size it received), plans with tool
calls (or a JSON plan in the text when the request carries no tools), and judges the outcome question in
the image.  Tests push canned replies (errors, prose) with :meth:`FakeOpenAI.push`; ``key`` makes it
refuse other keys with 401.
"""

from __future__ import annotations

import base64
import io
import json
import re
from http.server import BaseHTTPRequestHandler

import numpy as np
from fake_gemini import judge_done, segment
from local_server import LocalServer
from PIL import Image

from agents.tool.classic import ClassicReasoner
from agents.tool.pointing import infer_point_format, write_points
from agents.tool.types import Detection, norm_to_pixel

MODELS = {  # model -> its family's pointing convention
    "Qwen/Qwen2.5-VL-7B-Instruct": "qwen2.5", "Qwen/Qwen3-VL-8B-Instruct": "qwen3",
    "allenai/Molmo-7B-D-0924": "molmo", "allenai/Molmo2-8B": "molmo2", "vikhyatk/moondream2": "moondream",
    "google/paligemma2-3b-mix-448": "paligemma", "google/gemma-3-12b-it": "gemini",
}


def error_body(code: int, message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "code": code}}


def completion(model: str, message: dict) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 60, "total_tokens": 1260}}


def text_message(text: str) -> dict:
    return {"role": "assistant", "content": text}


class FakeOpenAI(LocalServer):
    def __init__(self, models: dict[str, str] | None = None, key: str | None = None, port: int = 0):
        self.models = dict(models or MODELS)
        self.key = key
        super().__init__(port)

    @property
    def base_url(self) -> str:
        return f"{self.address}/v1"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if fake.key is None or self.headers.get("Authorization") == f"Bearer {fake.key}":
                    return True
                self._send(401, error_body(401, "Incorrect API key provided.", "authentication_error"))
                return False

            def do_GET(self):
                if not self._authorised():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "fake"}
                                                                for m in fake.models]})
                else:
                    self._send(404, error_body(404, f"unknown path {self.path}", "not_found"))

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append((self.path, body))
                if not self._authorised():
                    return
                if fake.canned:
                    self._send(*fake.canned.popleft())
                    return
                self._send(*fake.answer(body))

        return Handler

    # --- the "models" ------------------------------------------------------
    def answer(self, body: dict) -> tuple[int, dict]:
        model = body.get("model", "")
        if model not in self.models:
            return 404, error_body(404, f"The model `{model}` does not exist.", "NotFoundError")
        fmt = self.models[model] or infer_point_format(model) or "gemini"
        messages = body.get("messages", [])
        if messages and messages[-1].get("role") == "tool":  # results of the calls: the plan was all of it
            return 200, completion(model, text_message("DONE"))
        image, text = _image_and_text(messages[-1] if messages else {})
        if text.startswith("Results:"):  # the JSON plan mode's results
            return 200, completion(model, text_message('{"calls": []}'))
        if "fully carried out" in text:
            done = judge_done(image, re.search(r'"(.*?)"', text).group(1))
            return 200, completion(model, text_message("Hard to say." if done is None else
                                                       json.dumps({"done": done})))
        if "Carry out the instruction" in text:
            return 200, completion(model, self._plan(image, text, bool(body.get("tools"))))
        return 200, completion(model, text_message(self._point(fmt, image, text)))

    @staticmethod
    def _point(fmt: str, image: np.ndarray, text: str) -> str:
        h, w = image.shape[:2]
        quoted = re.search(r'"(.*?)"', text)
        instruction = quoted.group(1) if quoted else text.removeprefix("detect ").replace(" ; ", " and the ")
        items = [(d.label, (d.pixel[0] + 0.5) / w, (d.pixel[1] + 0.5) / h)
                 for d in segment(image, instruction)]
        return write_points(fmt, items, (w, h))

    @staticmethod
    def _plan(image: np.ndarray, text: str, tools: bool) -> dict:
        h, w = image.shape[:2]
        instruction = re.search(r'instruction "(.*?)"', text).group(1)
        dets = [Detection(label, norm_to_pixel(float(y), float(x), w, h))
                for label, x, y in re.findall(r"- (.+?): x=(\d+), y=(\d+)", text)]
        calls = ClassicReasoner().start_plan(image, instruction, dets)
        if not calls:
            return text_message("I cannot find the objects.")
        if tools:
            return {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(c.args)}} for i, c in enumerate(calls)]}
        return text_message(json.dumps({"calls": [{"name": c.name, "args": c.args} for c in calls]}))


def _image_and_text(message: dict) -> tuple[np.ndarray, str]:
    image, text = None, ""
    content = message.get("content")
    parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
    for part in parts:
        if part.get("type") == "image_url":
            data = part["image_url"]["url"].split(",", 1)[1]
            image = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
        elif part.get("type") == "text":
            text += part.get("text", "")
    return image, text
