"""Throughput, peak memory and accuracy: spermlab's whole flow beside trackpy, on one video.

Source: VISEM-Tracking video 11, frames 0-699 by default (``$SPERMLAB_DATA/visem_tracking/11``),
encoded once into an MP4 (H.264/libx264, CRF 18, yuv420p; or MJPEG with ``--codec
mjpeg``) in a cache folder outside the repository, so that every method pays for
decoding a real video file. ``--source jpeg`` runs on the JPEG folder instead, and
``--source both`` on both.

Methods, each in a fresh process (``python benchmarks/throughput.py --one METHOD ...``)
so that peak RSS is the method's own:

``decode``
    :class:`spermlab.io.video.VideoReader` (or ``FrameFolder``) iterated to grey frames,
    nothing else: the ceiling.
``spermlab``
    ``Pipeline(preset("visem")).run(source)``: decode, detection (the default SpermNet,
    onnxruntime), online linking, drift, kinematics, WHO grading and the sample summary.
    Writing the results folder is timed separately (``write s``, not in frames/s).
``classical``
    The same flow with ``--detector classical`` (the hand-set detector).
``trackpy``
    The published VISEM settings: ``trackpy.locate(diameter=11, minmass=900)`` on every
    frame from the same reader (decode included), then ``trackpy.link(search_range=5,
    memory=3)``; each feature gets the annotation tool's default 17x18 px box.

Fairness: the numeric libraries are held to one thread in every child
(``OMP_NUM_THREADS`` ``OPENBLAS_NUM_THREADS`` ``MKL_NUM_THREADS`` ``NUMEXPR_NUM_THREADS``
``VECLIB_MAXIMUM_THREADS`` = 1). FFmpeg's frame-threaded decoding inside ``VideoReader``
is left as it is: the three methods share that reader. Each child imports its libraries
and runs the method once on the first 5 frames (lazy imports, caches) before the clock
starts; frames/s = frames / wall time of the full pass. CPU ms/frame (user + system
time of every thread of the process, decoder threads included) is printed beside it: on
a shared machine it moves less with other people's load than the wall time does.
Peak RSS is the child's ``VmHWM`` (whole process: interpreter and libraries included;
``base MB`` is the RSS after the imports and warm-up). Each method runs ``--repeat``
times; the fastest run is reported.

Accuracy (scored in the parent, outside the timing) against the video's annotations:

* P, R, F1: detections of the sperm class vs the ``labels/`` boxes of class 0, one-to-one
  matching per frame at centre distance <= 8 px
  (``spermlab.evaluate.evaluate_detections(match="distance", max_distance=8)``);
* HOTA and IDF1 with the centre-distance similarity (zero at 10 px) and HOTA with box
  IoU (``spermlab.evaluate.evaluate_tracking``, ``n_frames`` = frames run), against the
  ``labels_ftid/`` tracks (all classes, as the annotated tracks hold both).

Accuracy here is a sanity check, not a generalisation figure: frames 0-699 hold SpermNet's
training blocks V1-V3 (docs/validation.md); benchmarks/generalisation.py gives the
left-out figures.

Goal (issues 5, 11): spermlab >= 50 frames/s for the whole flow on this 2-core machine,
>= 3x trackpy's frames/s with better F1 and HOTA, and at least half the decode-only rate.

Run:  .venv/bin/python benchmarks/throughput.py [--frames 700] [--repeat 2]
      [--codec h264|mjpeg] [--source video|jpeg|both] [--json out.json]
"""

from __future__ import annotations

from _bench import CACHE, DATA, SINGLE_THREAD, peak_rss_mb, rss_mb  # pins threads first

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from itertools import islice  # noqa: E402
from pathlib import Path  # noqa: E402

VIDEO = "11"
METHODS = ("decode", "spermlab", "classical", "trackpy")
WARMUP_FRAMES = 5


def cpu_s() -> float:
    """CPU time (user + system) of this process so far, every thread included."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ------------------------------------------------------------------------ source
def make_video(frames: int, codec: str, cache: Path = CACHE) -> Path:
    """Encode JPEG frames 0..frames-1 of video 11 into an MP4 once; return its path."""
    import av
    import numpy as np
    from PIL import Image

    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"visem{VIDEO}_0-{frames - 1}_{codec}.mp4"
    if path.exists():
        return path
    images = DATA / "visem_tracking" / VIDEO / "images"
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        if codec == "h264":
            stream = container.add_stream("libx264", rate=50)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "18", "preset": "medium"}
        else:
            stream = container.add_stream("mjpeg", rate=50)
            stream.pix_fmt = "yuvj420p"
            stream.options = {"q:v": "2"}
        first = Image.open(images / f"{VIDEO}_frame_0.jpg")
        stream.width, stream.height = first.size
        for n in range(frames):
            with Image.open(images / f"{VIDEO}_frame_{n}.jpg") as im:
                grey = np.asarray(im.convert("L"))
            for packet in stream.encode(av.VideoFrame.from_ndarray(grey, format="gray")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


def open_source(kind: str, path: str, frames: int):
    from spermlab.io.frames import FrameFolder
    from spermlab.io.video import VideoReader

    if kind == "jpeg":
        return FrameFolder(path, fps=50.0, stop=frames)
    return VideoReader(path)


def fidelity(video: Path, frames: int) -> dict[str, float]:
    """Mean and max absolute grey-level difference of the MP4's frames vs the JPEGs."""
    import numpy as np

    from spermlab.io.frames import read_grey
    from spermlab.io.video import VideoReader

    images = DATA / "visem_tracking" / VIDEO / "images"
    diffs = []
    for fr in islice(VideoReader(video), 0, frames, max(frames // 20, 1)):
        ref = read_grey(images / f"{VIDEO}_frame_{fr.index}.jpg").astype(np.int16)
        diffs.append(np.abs(fr.image.astype(np.int16) - ref))
    d = np.stack(diffs)
    return {"mean_abs": float(d.mean()), "p99_abs": float(np.percentile(d, 99))}


# ------------------------------------------------------------------------ methods
def _decode(source, frames):
    n = 0
    for fr in frames:
        fr.image.sum()  # touch the pixels
        n += 1
    return n, None, {}


def _spermlab(source, frames):
    from spermlab.calibration import preset
    from spermlab.pipeline import Pipeline

    result = Pipeline(preset("visem")).run(source, frames=frames)
    return result.summary.n_frames, result, {}


def _classical(source, frames):
    from spermlab.calibration import preset
    from spermlab.detect import ClassicalDetector
    from spermlab.pipeline import Pipeline

    cal = preset("visem")
    result = Pipeline(cal, detector=ClassicalDetector(cal)).run(source, frames=frames)
    return result.summary.n_frames, result, {}


def _trackpy(source, frames):
    import pandas as pd
    import trackpy as tp

    parts, n = [], 0
    for fr in frames:
        f = tp.locate(fr.image, diameter=11, minmass=900)
        f["frame"] = fr.index
        parts.append(f)
        n += 1
    feats = pd.concat(parts, ignore_index=True)
    linked = tp.link(feats, search_range=5, memory=3)
    tracks = pd.DataFrame({
        "frame": linked["frame"].to_numpy(), "x": linked["x"].to_numpy(),
        "y": linked["y"].to_numpy(), "w": 17.0, "h": 18.0, "cls": 0,
        "score": linked["mass"].to_numpy() / max(linked["mass"].max(), 1e-12),
        "track_id": linked["particle"].to_numpy(),
    })  # fmt: skip
    return n, tracks, {}


RUNNERS = {"decode": _decode, "spermlab": _spermlab, "classical": _classical, "trackpy": _trackpy}


def run_one(method: str, kind: str, path: str, frames: int, save: str | None) -> dict:
    """Child: import, warm up, time one full pass; return figures (and save predictions)."""
    warnings.simplefilter("ignore")
    if method == "trackpy":
        import trackpy as tp

        tp.quiet()
    source = open_source(kind, path, frames)
    runner = RUNNERS[method]
    runner(source, islice(iter(source), WARMUP_FRAMES))  # warm-up: imports, caches
    base = rss_mb()
    c0, t0 = cpu_s(), time.perf_counter()
    n, out, extra = runner(source, islice(iter(source), frames))
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    peak = peak_rss_mb()
    figures = {"method": method, "source": kind, "frames": n, "wall_s": wall, "cpu_s": cpu,
               "fps": n / wall, "cpu_fps": n / cpu, "base_rss_mb": base, "peak_rss_mb": peak,
               "load_avg": os.getloadavg()[0], **extra}  # fmt: skip
    if method in ("spermlab", "classical") and out is not None:
        from spermlab.io.results import write_results

        figures["n_detections"] = len(out.detections)
        figures["n_tracks"] = int(out.tracks["track_id"].nunique()) if len(out.tracks) else 0
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            write_results(Path(tmp) / "r", detections=out.detections, tracks=out.tracks,
                          kinematics=out.kinematics, drift=out.drift,
                          summary=out.summary.to_dict(), width=out.width, height=out.height,
                          n_frames=out.summary.n_frames, stem=VIDEO)  # fmt: skip
            figures["write_s"] = time.perf_counter() - t0
        figures["peak_rss_with_write_mb"] = peak_rss_mb()
        if save:
            out.tracks.to_pickle(save)
    elif method == "trackpy" and out is not None:
        figures["n_detections"] = len(out)
        figures["n_tracks"] = int(out["track_id"].nunique())
        if save:
            out.to_pickle(save)
    return figures


# ------------------------------------------------------------------------ parent
def spawn(method: str, kind: str, path: str, frames: int, save: str | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", method,
           "--source-kind", kind, "--path", path, "--frames", str(frames)]  # fmt: skip
    if save:
        cmd += ["--save", save]
    env = {**os.environ, **SINGLE_THREAD}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{method} on {kind} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def score(pred, frames: int) -> dict[str, float]:
    from spermlab.evaluate import evaluate_detections, evaluate_tracking
    from spermlab.io.visem import read_visem_detections, read_visem_tracks

    folder = DATA / "visem_tracking" / VIDEO
    gt_det = read_visem_detections(folder, frames=range(frames))
    gt_det = gt_det[gt_det["cls"] == 0].reset_index(drop=True)
    gt_trk = read_visem_tracks(folder, frames=range(frames)).tracks
    p = pred[pred["cls"] == 0].reset_index(drop=True)
    det = evaluate_detections(p, gt_det, match="distance", max_distance=8.0).overall
    dist = evaluate_tracking(pred, gt_trk, similarity="distance", zero_distance=10.0,
                             n_frames=frames).to_dict()  # fmt: skip
    iou = evaluate_tracking(pred, gt_trk, similarity="iou", n_frames=frames).to_dict()
    return {"P": det.precision, "R": det.recall, "F1": det.f1,
            "HOTA_dist": dist["HOTA"], "DetA_dist": dist["DetA"], "AssA_dist": dist["AssA"],
            "IDF1_dist": dist["IDF1"], "HOTA_iou": iou["HOTA"]}  # fmt: skip


def _f(v, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def table(rows: list[dict]) -> str:
    head = ("| source | method | frames/s | × trackpy | × decode-only | CPU ms/frame "
            "| peak RSS MB | base MB | P | R | F1 | HOTA dist | IDF1 dist | HOTA IoU |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['source']} | {r['method']} | {r['fps']:.1f} | {_f(r.get('x_trackpy'), '.2f')} "
            f"| {_f(r.get('x_decode'), '.3f')} | {1000 * r['cpu_s'] / r['frames']:.1f} "
            f"| {r['peak_rss_mb']:.0f} | {r['base_rss_mb']:.0f} "
            f"| {_f(r.get('P'), '.3f')} | {_f(r.get('R'), '.3f')} | {_f(r.get('F1'), '.3f')} "
            f"| {_f(r.get('HOTA_dist'), '.3f')} | {_f(r.get('IDF1_dist'), '.3f')} "
            f"| {_f(r.get('HOTA_iou'), '.3f')} |"
        )
    return "\n".join(lines)


def goals(rows: list[dict]) -> list[str]:
    out = []
    by = {(r["source"], r["method"]): r for r in rows}
    for kind in sorted({r["source"] for r in rows}):
        s, t, d = by.get((kind, "spermlab")), by.get((kind, "trackpy")), by.get((kind, "decode"))
        if not (s and t and d):
            continue
        checks = [
            (">= 3x trackpy frames/s", s["fps"] >= 3 * t["fps"],
             f"{s['fps'] / t['fps']:.2f}x wall, {s['cpu_fps'] / t['cpu_fps']:.2f}x CPU time"),
            (">= 0.5x decode-only", s["fps"] >= 0.5 * d["fps"],
             f"{s['fps'] / d['fps']:.3f}x wall, {s['cpu_fps'] / d['cpu_fps']:.3f}x CPU time"),
            (">= 50 frames/s (whole flow)", s["fps"] >= 50, f"{s['fps']:.1f} frames/s"),
            ("F1 > trackpy", s["F1"] > t["F1"], f"{s['F1']:.3f} vs {t['F1']:.3f}"),
            ("HOTA (dist) > trackpy", s["HOTA_dist"] > t["HOTA_dist"],
             f"{s['HOTA_dist']:.3f} vs {t['HOTA_dist']:.3f}"),
            ("HOTA (IoU) > trackpy", s["HOTA_iou"] > t["HOTA_iou"],
             f"{s['HOTA_iou']:.3f} vs {t['HOTA_iou']:.3f}"),
        ]  # fmt: skip
        for name, ok, value in checks:
            out.append(f"[{kind}] {name}: {'MET' if ok else 'MISSED'} ({value})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--frames", type=int, default=700,
                    help="frames 0..N-1 (default 700: stays clear of the final-test block 800-999)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per method; best is kept")
    ap.add_argument("--codec", choices=("h264", "mjpeg"), default="h264")
    ap.add_argument("--source", choices=("video", "jpeg", "both"), default="video")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset")
    ap.add_argument("--cache", type=Path, default=CACHE, help="where the MP4 is kept")
    ap.add_argument("--json", type=Path, help="write every figure to this JSON file")
    # child mode
    ap.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--source-kind", choices=("video", "jpeg"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.one:
        print(json.dumps(run_one(args.one, args.source_kind, args.path, args.frames, args.save)))
        return

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    kinds = ["video", "jpeg"] if args.source == "both" else [args.source]
    info: dict = {"frames": args.frames, "repeat": args.repeat, "codec": args.codec,
                  "threads": SINGLE_THREAD, "cpus": os.cpu_count(),
                  "load_avg_start": os.getloadavg()}  # fmt: skip
    paths = {"jpeg": str(DATA / "visem_tracking" / VIDEO / "images")}
    if "video" in kinds:
        t0 = time.perf_counter()
        video = make_video(args.frames, args.codec, args.cache)
        info["video"] = {"path": str(video), "bytes": video.stat().st_size,
                         "prepare_s": time.perf_counter() - t0,
                         "vs_jpeg": fidelity(video, args.frames)}  # fmt: skip
        paths["video"] = str(video)
        print(f"video: {video} ({video.stat().st_size / 1e6:.1f} MB, {args.codec}); grey-level "
              f"difference to the JPEGs: mean {info['video']['vs_jpeg']['mean_abs']:.2f}, "
              f"p99 {info['video']['vs_jpeg']['p99_abs']:.0f}", flush=True)  # fmt: skip

    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            for method in methods:
                best = None
                for k in range(args.repeat):
                    save = str(Path(tmp) / f"{kind}-{method}.pkl") if k == 0 else None
                    r = spawn(method, kind, paths[kind], args.frames, save)
                    r["run"] = k
                    runs.append(r)
                    print(f"  {kind:5s} {method:8s} run {k}: {r['fps']:7.1f} frames/s, "
                          f"{1000 * r['cpu_s'] / r['frames']:6.1f} CPU ms/frame, peak "
                          f"{r['peak_rss_mb']:.0f} MB, load {r['load_avg']:.2f}",
                          flush=True)  # fmt: skip
                    if best is None or r["wall_s"] < best["wall_s"]:
                        best = r
                if method in ("spermlab", "classical", "trackpy"):
                    import pandas as pd

                    best.update(score(pd.read_pickle(Path(tmp) / f"{kind}-{method}.pkl"),
                                      args.frames))  # fmt: skip
                rows.append(best)
    for kind in kinds:
        ref = {r["method"]: r["fps"] for r in rows if r["source"] == kind}
        for r in rows:
            if r["source"] == kind:
                r["x_trackpy"] = r["fps"] / ref["trackpy"] if "trackpy" in ref else None
                r["x_decode"] = r["fps"] / ref["decode"] if "decode" in ref else None
    info["load_avg_end"] = os.getloadavg()

    print()
    print(f"VISEM-Tracking video {VIDEO}, frames 0-{args.frames - 1}; best of {args.repeat} "
          f"run(s) per method, each in a fresh process; numeric libraries single-threaded; "
          f"{os.cpu_count()} CPUs, load average {info['load_avg_start'][0]:.2f} at start, "
          f"{info['load_avg_end'][0]:.2f} at end")  # fmt: skip
    print()
    print(table(rows))
    for r in rows:
        if r["method"] == "spermlab":
            print(f"\n[{r['source']}] spermlab: {r['n_detections']} detections, "
                  f"{r['n_tracks']} tracks; writing the results folder took {r['write_s']:.2f} s "
                  f"(not in frames/s; peak RSS with writing {r['peak_rss_with_write_mb']:.0f} MB)")
        if r["method"] == "trackpy":
            print(f"[{r['source']}] trackpy: {r['n_detections']} features, {r['n_tracks']} tracks")
    print()
    for line in goals(rows):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"info": info, "rows": rows, "runs": runs}, indent=2,
                                        default=float))  # fmt: skip


if __name__ == "__main__":
    main()
