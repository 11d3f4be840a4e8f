"""`video`: a real face (golden MTCNN photo) moved along a synthetic camera path with shake and a
sound track, and the toy world's own frames (`--align none`): frames, rate, size and sound kept,
the quads' jitter reduced by smoothing, a lost face passed through, an interrupted run resumed to
the same bytes, and bad clips refused with one line."""

from pathlib import Path

import numpy as np
import pytest

from styleclip_jax.cli.main import main
from styleclip_jax.errors import InputError

pytest.importorskip("av")
REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "styleclip_jax" / "toyworld" / "weights"


@pytest.fixture(scope="module")
def toy_clip(tmp_path_factory):
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.clips import toy_clip, write_clip

    d = tmp_path_factory.mktemp("toy_clip")
    tw = load_world()
    write_clip(d / "toy.mp4", toy_clip(tw.generator, 12), audio_seconds=0.5)
    return tw, d / "toy.mp4"


def test_face_clip_tracked_smoothed_and_pasted(golden_dir, tmp_path):
    import av
    from PIL import Image

    from convert_weights.e4e import convert_encoder
    from styleclip_jax.editing.video.edits import offset_edit
    from styleclip_jax.editing.video.run import edit_video
    from styleclip_jax.io.video import probe, read_frames
    from styleclip_jax.toyworld.clips import camera_clip, write_clip

    face = Image.fromarray(np.load(golden_dir / "mtcnn_faces.npz")["img_a_ffhq2_256"]).resize((150, 150))
    canvas = Image.new("RGB", (400, 400), (90, 120, 150))
    canvas.paste(face, (125, 125))  # room around the face, so the paste-back has an outside
    frames = camera_clip(np.asarray(canvas), 10, 256, jitter=2.0)
    frames[5] = 128  # no face in this frame
    write_clip(tmp_path / "in.mp4", frames, audio_seconds=0.4)
    enc, gen = convert_encoder(golden_dir / "e4e_tiny.pt", generator_out=tmp_path / "gen")
    delta = np.zeros((gen.config.num_ws, gen.config.w_dim), np.float32)
    delta[:, :4] = 0.5
    rep = edit_video(tmp_path / "in.mp4", tmp_path / "out.mp4", gen, enc, offset_edit(delta), {"edit": "offset"})
    a, b = probe(tmp_path / "in.mp4"), probe(tmp_path / "out.mp4")
    assert (b.frames, b.fps, b.size, b.has_audio) == (a.frames, a.fps, a.size, True) == (10, 25, (256, 256), True)
    with av.open(str(tmp_path / "in.mp4")) as i, av.open(str(tmp_path / "out.mp4")) as o:
        assert o.streams.audio[0].frames == i.streams.audio[0].frames > 0
    assert rep["lost_frames"] == [5] and rep["edited_frames"] == 9
    j = rep["jitter_px"]
    assert j["smoothed"] < 0.5 * j["raw"], j  # STIT's sigmas (1, 3) on 2 px of shake: about 4x less
    got, src = list(read_frames(tmp_path / "out.mp4")), list(read_frames(tmp_path / "in.mp4"))
    diff = [np.abs(x.astype(np.float32) - y).mean() for x, y in zip(got, src)]
    assert diff[5] < 2.0 and min(diff[:5] + diff[6:]) > 3 * diff[5]  # passed through vs edited
    corner = [np.abs(x[:24, :24].astype(np.float32) - y[:24, :24]).mean() for x, y in zip(got, src)]
    assert max(corner) < 3.0  # the paste-back leaves the frame outside the face alone


def test_toy_clip_resumes_to_the_same_bytes(toy_clip, tmp_path):
    from styleclip_jax.editing.global_directions.config import TextEdit
    from styleclip_jax.editing.video.config import VideoSettings
    from styleclip_jax.editing.video.edits import global_direction
    from styleclip_jax.editing.video.run import edit_video
    from styleclip_jax.io.video import probe

    tw, clip = toy_clip
    edit = global_direction(tw.clip, tw.stats, TextEdit("object", "red object", 6.0, 0.1))
    s = VideoSettings(align="none", batch=4)
    info = {"edit": "red"}
    rep = edit_video(clip, tmp_path / "a.mp4", tw.generator, tw.encoder, edit, info, s)
    assert rep["edited_frames"] == 12 and "jitter_px" not in rep
    assert probe(tmp_path / "a.mp4").frames == 12

    calls = []

    def interrupted(gen, w):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return edit(gen, w)

    with pytest.raises(KeyboardInterrupt):
        edit_video(clip, tmp_path / "b.mp4", tw.generator, tw.encoder, interrupted, info, s)
    assert not (tmp_path / "b.mp4").exists() and len(list((tmp_path / "b.mp4.work" / "edit").iterdir())) == 1
    with pytest.raises(InputError, match="edit differ"):
        edit_video(clip, tmp_path / "b.mp4", tw.generator, tw.encoder, edit, {"edit": "blue"}, s, resume=True)
    edit_video(clip, tmp_path / "b.mp4", tw.generator, tw.encoder, edit, info, s, resume=True)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_cli_with_pti_and_bad_clips(toy_clip, tmp_path, capsys):
    tw, clip = toy_clip
    base = ["video", str(clip), "--method", "global", "--generator", str(TOY / "generator")]
    base += ["--encoder", str(TOY / "encoder"), "--clip", str(TOY / "clip"), "--stats", str(TOY / "global")]
    base += ["--neutral", "object", "--target", "red object", "--alpha", "6", "--align", "none"]
    assert main(base + ["--pti", "2", "--pti-batch", "6", "--lpips", "random", "--out", str(tmp_path / "p.mp4")]) == 0
    out = capsys.readouterr().out
    assert "edited 12 of 12 frames at 25 fps" in out and "flicker" in out
    assert (tmp_path / "p.mp4.work" / "pti" / "generator" / "config.json").exists()
    # --frames: only that part is edited, the clip keeps its length
    assert main(base + ["--frames", "2-5", "--out", str(tmp_path / "f.mp4")]) == 0
    assert "edited 4 of 12 frames" in capsys.readouterr().out
    assert main(base + ["--frames", "2-50", "--out", str(tmp_path / "g.mp4")]) == 2
    assert "the clip has 12 frames" in capsys.readouterr().err
    bad = {
        "missing.mp4": None,
        "empty.mp4": b"",
        "random.mp4": np.random.default_rng(0).bytes(4096),
        "truncated.mp4": clip.read_bytes()[: len(clip.read_bytes()) // 3],
    }
    for name, data in bad.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        argv = [a if a != str(clip) else str(tmp_path / name) for a in base]
        assert main(argv + ["--out", str(tmp_path / f"o_{name}")]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], (name, err)
        assert not (tmp_path / f"o_{name}").exists()
    from styleclip_jax.toyworld.clips import write_clip

    sound = write_clip(tmp_path / "sound_only.mp4", [np.zeros((2, 2, 3), np.uint8)], audio_seconds=0.2)
    import av

    with av.open(str(tmp_path / "audio.m4a"), "w", format="mp4") as o, av.open(str(sound)) as i:
        a = o.add_stream_from_template(i.streams.audio[0])
        for p in i.demux(i.streams.audio[0]):
            if p.dts is not None:
                p.stream = a
                o.mux(p)
    argv = [a if a != str(clip) else str(tmp_path / "audio.m4a") for a in base]
    assert main(argv + ["--out", str(tmp_path / "o_audio.mp4")]) == 2
    assert "no video stream" in capsys.readouterr().err
