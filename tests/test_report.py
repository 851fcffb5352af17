"""eval.report's table layouts on hand-made episode records."""

import pandas as pd

from eval.report import comparison_table
from eval.store import summarize


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
