"""bench/gpu_suite.py --smoke: the one-shot accelerator suite runs end to end on CPU at tiny sizes,
so the script a lent GPU runs once is known to work before the GPU minutes are spent."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_suite_smoke(tmp_path):
    out = tmp_path / "suite.json"
    p = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_suite.py"), "--smoke", "--repeats", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=tmp_path,
    )
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    r = json.loads(out.read_text())
    res = r["results"]
    assert set(res) == {"gen", "a", "mapper", "fs3", "onnx", "sg3", "pti", "restyle", "video", "roofline"}, res.keys()
    assert all("rows" in v for v in res.values()), res
    gen = {(row["dtype"], row["batch"]) for row in res["gen"]["rows"]}
    assert gen == {("float32", 1), ("float32", 2), ("bfloat16", 1), ("bfloat16", 2)}
    assert all(row["images_per_s"] > 0 for row in res["gen"]["rows"])
    assert res["fs3"]["rows"][0]["renders"] == 8 and res["fs3"]["rows"][0]["full_job_hours"] > 0
    assert res["onnx"]["rows"][0]["ort_ms"] > 0
    assert {(row["config"], row["batch"]) for row in res["sg3"]["rows"]} == {("T", 1), ("T", 2), ("R", 1), ("R", 2)}
    assert res["pti"]["rows"][0]["steps_per_s"] > 0
    assert [row["batch"] for row in res["restyle"]["rows"]] == [1, 4]
    assert {row["stage"] for row in res["video"]["rows"]} >= {"invert", "edit", "encode"}
    roof = {row["workload"]: row for row in res["roofline"]["rows"]}
    assert set(roof) == {"peak", "sg2", "clip"} and roof["peak"]["conv_gflops"] > 0
    assert all(0 < roof[n]["of_conv_peak"] < 10 and roof[n]["program_gib"] > 0 for n in ("sg2", "clip"))
    assert len(r["markdown"]) >= 10 and "rows for bench/RESULTS.md" in p.stdout
