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
from http.server import BaseHTTPRequestHandler

import numpy as np
from local_server import LocalServer
from PIL import Image

from agents.tool.classic import ClassicReasoner
from agents.tool.perception import COLOR_WORDS, color_blobs, detect_color, detect_tray, parse_instruction
from agents.tool.types import Call, Detection, norm_to_pixel, pixel_to_norm
from envs.cameras import PRIMARY
from envs.scene import BLOCK_HALF_SIZE_M
from envs.tasks.place_rel import DIRECTIONS, PlaceRelTask
from envs.tasks.refer import KINDS, PHRASES, Expression, SceneCube, candidate_expressions, phrase, resolve

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


class FakeGemini(LocalServer):
    @property
    def base_url(self) -> str:
        return self.address

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
        dets = segment(image, instruction)
        referred = _refer(image, instruction)
        if referred is not None:  # one of look-alikes, named by position, order, size or a neighbour
            dets = [referred] + [d for d in dets if d.kind == "target"]
        for det in dets:
            item = {"point": list(pixel_to_norm(det.pixel, w, h)), "label": det.label}
            if det.box is not None:
                u0, v0, u1, v1 = det.box
                item["box_2d"] = [round(v0 / h * 1000), round(u0 / w * 1000), round(v1 / h * 1000),
                                  round(u1 / w * 1000)]
            items.append(item)
        return 200, text_reply(json.dumps(items))

    def _done(self, image: np.ndarray, instruction: str) -> tuple[int, dict]:
        done = judge_done(image, instruction)
        if done is None:
            return 200, text_reply("I cannot tell from this image.")
        return 200, text_reply(json.dumps({"done": done}))

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
        if parse_instruction(instruction).form == "gather":  # where on the tray: it looks at the tray's shape
            dets = ClassicReasoner().point(image, instruction)
        calls = ClassicReasoner().start_plan(image, instruction, dets) or _pick_and_place(image, instruction, dets)
        parts = [{"functionCall": {"name": c.name, "args": c.args, "id": f"call-{i}"}} for i, c in enumerate(calls)]
        if parts:
            parts[0]["thoughtSignature"] = THOUGHT_SIGNATURE
        return 200, _reply(parts) if parts else text_reply("I cannot find the objects.")


def segment(image: np.ndarray, instruction: str) -> list[Detection]:
    """What the stand-in points at: every object of a multi-step form (the classic rules), else each
    coloured object the instruction names (also where the rules make no plan: relations, references)."""
    found = ClassicReasoner().point(image, instruction)
    if found:
        return found
    named = dict.fromkeys(parse_instruction(instruction).objects)
    return [d for d in (detect_color(image, c, f"{c} {k}") for c, k in named) if d is not None]


def judge_done(image: np.ndarray, instruction: str) -> bool | None:
    """The outcome question, judged in the image: each moved cube's region lies within the box of the region
    it was to go onto (for sort: every colour is one region, cube on mat).  None for what one image cannot
    settle (a pick) or the rules cannot read (the agent then checks its own steps)."""
    parsed = parse_instruction(instruction)
    if parsed.form in (None, "pick"):
        return None

    def inside(moved: Detection | None, onto: Detection | None) -> bool:
        if moved is None or onto is None or onto.box is None:
            return False
        u0, v0, u1, v1 = onto.box
        if onto.kind == "block":  # a cube on a cube shows above the lower one's visible sides
            v0 -= v1 - v0
        return bool(u0 <= moved.pixel[0] <= u1 and v0 <= moved.pixel[1] <= v1)

    if parsed.form == "sort":
        return all(len(color_blobs(image, c, c)) <= 1 for c in COLOR_WORDS)
    if parsed.form == "gather":
        tray = detect_tray(image)
        return all(inside(b[0], tray) for b in (color_blobs(image, c, c) for c in COLOR_WORDS) if b)
    labels = parsed.labels
    if parsed.form == "tower":
        labels = [labels[1], labels[0], labels[2], labels[1]]
    found = {label: detect_color(image, label.split()[0], label) for label in labels}
    return all(inside(found[a], found[b]) for a, b in zip(labels[::2], labels[1::2]))


# --- what the stand-in knows of the view -------------------------------------------------------------------
# To read "the leftmost block" or "to the left of the blue block" from an image a model must know where the
# robot stands and which way its left is; the stand-in knows the nominal primary camera's view (as a model
# that has seen this robot would) and nothing of the episode: it lifts what it segments through that view.
VIEW = PRIMARY.calibration()
MAT_MIN_AREA_M2 = 0.005  # a mat's disc is 79 cm^2; a 4 cm cube seen from above and aside under ~35 cm^2


def _footprint_m2(det: Detection) -> float:
    """A region's area on the table: its pixels times the table area one pixel covers there."""
    p = np.array([det.pixel, det.pixel + [1.0, 0.0], det.pixel + [0.0, 1.0]])
    q = VIEW.unproject(p, plane_z=BLOCK_HALF_SIZE_M)[:, :2]
    (a, b), (c, d) = q[1] - q[0], q[2] - q[0]
    return float(det.area * abs(a * d - b * c))


def _scene(image: np.ndarray) -> tuple[list[SceneCube], dict[str, np.ndarray], dict[str, Detection]]:
    """Cubes (id, colour, table position, size from area) and mats, from segmentation through the view."""
    cubes, mats, dets = [], {}, {}
    for color in COLOR_WORDS:
        for i, blob in enumerate(color_blobs(image, color, f"{color} block")):
            area = _footprint_m2(blob)
            if area >= MAT_MIN_AREA_M2:
                mats[color] = VIEW.unproject(blob.pixel[None], plane_z=0.0)[0, :2]
                continue
            cube_id = f"{color}#{i}"
            cubes.append(SceneCube(cube_id, color, VIEW.unproject(blob.pixel[None], plane_z=BLOCK_HALF_SIZE_M)[0, :2],
                                   round(float(np.sqrt(area)), 3)))
            dets[cube_id] = blob
    return cubes, mats, dets


def _expression(instruction: str, colors: list[str]) -> Expression | None:
    """The referring expression worded in the instruction, in any instruction set's phrasing."""
    text = instruction.lower()
    for kind in KINDS:
        for expr in candidate_expressions(kind, colors, colors):
            if any(phrase(expr, language) in text for language in PHRASES):
                return expr
    return None


def _refer(image: np.ndarray, instruction: str) -> Detection | None:
    """The one cube a referring expression picks out, found by the rules the tasks are built on."""
    expr = _expression(instruction, list(COLOR_WORDS))
    if expr is None:
        return None
    cubes, mats, dets = _scene(image)
    found = resolve(expr, cubes, mats)
    return dets[found[0]] if found else None


def _relation(instruction: str) -> str | None:
    text = instruction.lower()
    for phrases in PlaceRelTask.relation_phrases.values():
        for relation, words in sorted(phrases.items(), key=lambda kv: -len(kv[1])):  # longest wording first
            if f" {words} " in f" {text} ":
                return relation
    return None


def _pick_and_place(image: np.ndarray, instruction: str, dets: list[Detection]) -> list:
    """A plan for what the classic rules leave: the pointed cube onto the pointed mat, or next to the other
    pointed cube in the relation the instruction names (7 cm from it, through the view)."""
    h, w = image.shape[:2]
    blocks, targets = [d for d in dets if d.kind == "block"], [d for d in dets if d.kind == "target"]
    if not blocks:
        return []
    relation = _relation(instruction)
    goal = None
    if relation is not None and len(blocks) == 2:
        ref = VIEW.unproject(blocks[1].pixel[None], plane_z=BLOCK_HALF_SIZE_M)[0]
        goal = VIEW.project((np.r_[ref[:2], 0.0] + 0.07 * np.r_[DIRECTIONS[relation], 0.0])[None])[0]
    elif targets:
        goal = targets[-1].pixel  # the destination: named after the object in every place wording
    steps = [Detection("x", blocks[0].pixel)] + ([Detection("x", goal)] if goal is not None else [])
    plan = [Call("setGripperState", {"opened": True})]
    for k, step in enumerate(steps):
        y, x = pixel_to_norm(step.pixel, w, h)
        grip = Call("setGripperState", {"opened": k == 1})
        plan += [Call("move", {"x": x, "y": y, "high": True}), Call("move", {"x": x, "y": y, "high": False}), grip,
                 Call("move", {"x": x, "y": y, "high": True})]
    return plan


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
