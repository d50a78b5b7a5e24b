"""Compare a simulated frame with a real VISEM-Tracking frame, side by side.

Usage::

    python benchmarks/compare_sim_real.py [--data ../shared/data] [--out docs/img/sim_vs_real.png]

Prints, for both images, the background level and noise, the head contrast, the head's
bright-core size and radial profile, and the tail contrast; saves the two frames (and a
4x zoom of one head of each) side by side as a PNG. The simulation uses the clinical
values of VISEM participant 11 (97 x 10^6/mL; progressive 11 %, non-progressive 17 %,
immotile 72 %) and the ``visem`` calibration, so the two fields hold about as many cells.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from spermlab.simulate import SimulationConfig, simulate

REPO = Path(__file__).resolve().parents[1]


def measure(img: np.ndarray, centres: np.ndarray) -> dict[str, float | list[float]]:
    """Statistics of one grey frame given the head centres (px, N x 2)."""
    g = img.astype(np.float64)
    bg = ndi.median_filter(g, size=31)
    res = g - bg
    hp = g - ndi.uniform_filter(g, 3)
    out: dict[str, float | list[float]] = {
        "mean": float(g.mean()),
        "median": float(np.median(g)),
        "std": float(g.std()),
        "background_residual_mad": float(np.median(np.abs(res)) * 1.4826),
        "highpass_mad": float(np.median(np.abs(hp)) * 1.4826),
        "dark_blobs_below_15": int(ndi.label(res < -15)[1]),
    }
    prof, peaks, sizes, tails = [], [], [], []
    h, w = g.shape
    yy, xx = np.mgrid[-24:25, -24:25]
    for x, y in centres:
        xi, yi = int(x), int(y)
        if not (30 <= xi < w - 30 and 30 <= yi < h - 30):
            continue
        patch = res[yi - 24 : yi + 25, xi - 24 : xi + 25]
        py, px = np.unravel_index(np.argmax(patch[18:31, 18:31]), (13, 13))
        py, px = py + 18, px + 18
        r = np.hypot(yy - (py - 24), xx - (px - 24))
        peaks.append(patch[py, px])
        prof.append([np.median(patch[(r >= k - 0.5) & (r < k + 0.5)]) for k in range(0, 21)])
        lab, _ = ndi.label(patch > patch[py, px] / 2)
        sizes.append(int((lab == lab[py, px]).sum()))
        ring = [np.min(patch[(r >= k - 0.5) & (r < k + 0.5)]) for k in range(14, 22)]
        tails.append(float(np.median(ring)))
    out.update(
        {
            "n_heads_measured": len(peaks),
            "head_peak_minus_background": float(np.median(peaks)),
            "head_core_area_px_above_half_peak": float(np.median(sizes)),
            "head_core_diameter_px": float(2 * np.sqrt(np.median(sizes) / np.pi)),
            "tail_contrast_r14_21": float(np.median(tails)),
            "radial_profile": [round(float(v), 1) for v in np.median(prof, axis=0)],
        }
    )
    return out


def real_frame(data: Path) -> tuple[np.ndarray, np.ndarray]:
    d = data / "visem_tracking" / "11"
    img = np.asarray(Image.open(d / "images" / "11_frame_0.jpg").convert("L"))
    lab = np.loadtxt(d / "labels" / "11_frame_0.txt", ndmin=2)
    lab = lab[lab[:, 0] == 0]
    return img, np.c_[lab[:, 1] * img.shape[1], lab[:, 2] * img.shape[0]]


def sim_frame(seed: int, look: str = "phase") -> tuple[np.ndarray, np.ndarray]:
    cfg = SimulationConfig(
        duration_s=0.1, concentration=97.0, mix=(0.05, 0.06, 0.17, 0.72), look=look
    )
    sim = simulate(cfg, rng=seed)
    buf = io.BytesIO()  # as write_simulation(frames=True) stores it: JPEG quality 95
    Image.fromarray(next(iter(sim)).image).save(buf, format="JPEG", quality=95)
    img = np.asarray(Image.open(buf))
    t = sim.tracks[sim.tracks["frame"] == 0]
    return img, t[["x", "y"]].to_numpy()


def zoom(img: np.ndarray, c: np.ndarray, half: int = 40, k: int = 4) -> Image.Image:
    x, y = (int(v) for v in c)
    pad = np.pad(img, half, mode="edge")
    crop = pad[y : y + 2 * half, x : x + 2 * half]
    return Image.fromarray(crop).resize((2 * half * k, 2 * half * k), Image.NEAREST)


def _central_head(centres: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mid = np.array([shape[1] / 2, shape[0] / 2])
    return centres[np.argmin(np.hypot(*(centres - mid).T))]


def side_by_side(sim: np.ndarray, sc: np.ndarray, real: np.ndarray, rc: np.ndarray) -> Image.Image:
    h, w = real.shape
    zs, zr = zoom(sim, _central_head(sc, sim.shape)), zoom(real, _central_head(rc, real.shape))
    canvas = Image.new("L", (2 * w + 10, h + zs.height + 40), 255)
    canvas.paste(Image.fromarray(sim), (0, 20))
    canvas.paste(Image.fromarray(real), (w + 10, 20))
    canvas.paste(zs, (w // 2 - zs.width // 2, h + 30))
    canvas.paste(zr, (w + 10 + w // 2 - zr.width // 2, h + 30))
    draw = ImageDraw.Draw(canvas)
    draw.text((5, 4), "simulated (spermlab.simulate, phase, seed 11)", fill=0)
    draw.text((w + 15, 4), "real: VISEM-Tracking video 11, frame 0 (CC BY 4.0)", fill=0)
    return canvas


def svia_frame(data: Path) -> np.ndarray | None:
    """Frame 0 of the SVIA bright-field clip S_0001.mp4, or None when it is absent."""
    path = data / "videos" / "svia" / "S_0001.mp4"
    if not path.is_file():
        return None
    import av

    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="gray")


def brightfield_pair(data: Path, seed: int) -> tuple[Image.Image, dict[str, float]] | None:
    """Simulated bright field next to SVIA, at SVIA's frame size; with level statistics."""
    real = svia_frame(data)
    if real is None:
        return None
    h, w = real.shape
    cfg = SimulationConfig(
        duration_s=0.1, concentration=80.0, look="brightfield", width=w, height=h
    )
    sim = next(iter(simulate(cfg, rng=seed))).image
    canvas = Image.new("L", (2 * w + 10, h + 20), 255)
    canvas.paste(Image.fromarray(sim), (0, 20))
    canvas.paste(Image.fromarray(real), (w + 10, 20))
    draw = ImageDraw.Draw(canvas)
    draw.text((5, 4), f"simulated (look='brightfield', seed {seed})", fill=0)
    draw.text((w + 15, 4), "real: SVIA S_0001.mp4, frame 0", fill=0)
    stats = {
        "svia_median": float(np.median(real)),
        "sim_median": float(np.median(sim)),
        "svia_std": float(real.std()),
        "sim_std": float(sim.std()),
    }
    return canvas, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "sim_vs_real.png")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    real, rc = real_frame(args.data)
    sim, sc = sim_frame(args.seed)
    stats = {"real": measure(real, rc), "simulated": measure(sim, sc)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    side_by_side(sim, sc, real, rc).save(args.out, optimize=True)
    bf = brightfield_pair(args.data, args.seed)
    if bf is not None:
        bf[0].save(args.out.with_name("sim_vs_svia.png"), optimize=True)
        stats["brightfield"] = bf[1]
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
