"""A local HTTP server that speaks the Gemini API's generateContent wire format.

The real ``google-genai`` client talks to it over 127.0.0.1.  By default it
behaves like a (very good) Robotics-ER model: it answers pointing requests by
segmenting the image it was sent and planning requests with function calls,
answers the outcome question by judging the image, and it enforces the API's
rule that a model turn carrying a thought signature must come back unchanged.
Tests push canned replies (errors, prose instead of JSON, empty lists) with
:meth:`FakeGemini.push`.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

from agents.tool.classic import ClassicReasoner
from agents.tool.perception import COLOR_WORDS, color_blobs, detect_color, detect_tray, parse_instruction
from agents.tool.types import Detection, norm_to_pixel, pixel_to_norm

RETIRED = {"gemini-robotics-er-1.6-preview", "gemini-robotics-er-1.5-preview"}
THOUGHT_SIGNATURE = base64.b64encode(b"fake-thought-signature").decode()


def error_body(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


def text_reply(text: str) -> dict:
    return _reply([{"text": text}])


def _reply(parts: list[dict]) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 50, "thoughtsTokenCount": 20,
                              "totalTokenCount": 1070}}


class FakeGemini:
    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.canned: deque[tuple[int, dict]] = deque()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def push(self, status: int, body: dict) -> None:
        """The next request gets this reply instead of the model's."""
        self.canned.append((status, body))

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append((self.path, body))
                status, reply = fake.canned.popleft() if fake.canned else fake.answer(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    # --- the "model" -------------------------------------------------------
    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        m = re.search(r"/models/([^:/]+):generateContent$", path)
        if not m:
            return 404, error_body(404, "NOT_FOUND", f"unknown path {path}")
        if m.group(1) in RETIRED:
            return 404, error_body(404, "NOT_FOUND", f"models/{m.group(1)} is not found for API version v1beta")
        contents = body.get("contents", [])
        if body.get("tools"):
            return self._plan(contents)
        image, text = _image_and_text(contents[-1])
        instruction = re.search(r'"(.*?)"', text).group(1)
        if "carried out" in text:
            return self._done(image, instruction)
        h, w = image.shape[:2]
        items = []
        for det in ClassicReasoner().point(image, instruction):  # sort, gather, tower: every object involved
            item = {"point": list(pixel_to_norm(det.pixel, w, h)), "label": det.label}
            if det.box is not None:
                u0, v0, u1, v1 = det.box
                item["box_2d"] = [round(v0 / h * 1000), round(u0 / w * 1000), round(v1 / h * 1000),
                                  round(u1 / w * 1000)]
            items.append(item)
        return 200, text_reply(json.dumps(items))

    def _done(self, image: np.ndarray, instruction: str) -> tuple[int, dict]:
        """The outcome question, judged in the image: each moved cube's region lies within the box of the
        region it was to go onto (for sort: every colour is one region, cube on mat).  A pick it cannot judge
        from one image: it says so in prose (the agent then checks its own steps)."""
        parsed = parse_instruction(instruction)
        if parsed.form in (None, "pick"):
            return 200, text_reply("I cannot tell from this image.")

        def inside(moved: Detection | None, onto: Detection | None) -> bool:
            if moved is None or onto is None or onto.box is None:
                return False
            u0, v0, u1, v1 = onto.box
            if onto.kind == "block":  # a cube on a cube shows above the lower one's visible sides
                v0 -= v1 - v0
            return bool(u0 <= moved.pixel[0] <= u1 and v0 <= moved.pixel[1] <= v1)

        if parsed.form == "sort":
            done = all(len(color_blobs(image, c, c)) <= 1 for c in COLOR_WORDS)
        elif parsed.form == "gather":
            tray = detect_tray(image)
            done = all(inside(b[0], tray) for b in (color_blobs(image, c, c) for c in COLOR_WORDS) if b)
        else:
            labels = parsed.labels
            if parsed.form == "tower":
                labels = [labels[1], labels[0], labels[2], labels[1]]
            found = {label: detect_color(image, label.split()[0], label) for label in labels}
            done = all(inside(found[a], found[b]) for a, b in zip(labels[::2], labels[1::2]))
        return 200, text_reply(json.dumps({"done": bool(done)}))

    def _plan(self, contents: list[dict]) -> tuple[int, dict]:
        if len(contents) > 1:  # a follow-up with function responses
            model_turns = [c for c in contents if c.get("role") == "model"]
            if not all(any(_get(p, "thoughtSignature", "thought_signature") for p in c["parts"]) for c in model_turns):
                return 400, error_body(400, "INVALID_ARGUMENT", "Function call is missing a thought_signature")
            return 200, text_reply("DONE")
        image, text = _image_and_text(contents[0])
        h, w = image.shape[:2]
        instruction = re.search(r'instruction "(.*?)"', text).group(1)
        dets = [Detection(label, norm_to_pixel(float(y), float(x), w, h))
                for label, x, y in re.findall(r"- (.+?): x=(\d+), y=(\d+)", text)]
        calls = ClassicReasoner().start_plan(image, instruction, dets)
        parts = [{"functionCall": {"name": c.name, "args": c.args, "id": f"call-{i}"}} for i, c in enumerate(calls)]
        if parts:
            parts[0]["thoughtSignature"] = THOUGHT_SIGNATURE
        return 200, _reply(parts) if parts else text_reply("I cannot find the objects.")


def _b64(data: str) -> bytes:
    """Standard or URL-safe base64, padded or not."""
    data = data.replace("-", "+").replace("_", "/")
    return base64.b64decode(data + "=" * (-len(data) % 4))


def _get(d: dict, *keys):
    return next((d[k] for k in keys if k in d), None)


def _image_and_text(content: dict) -> tuple[np.ndarray, str]:
    image, text = None, ""
    for part in content.get("parts", []):
        blob = _get(part, "inlineData", "inline_data")
        if blob:
            image = np.asarray(Image.open(io.BytesIO(_b64(blob["data"]))).convert("RGB"))
        text += part.get("text", "")
    return image, text
