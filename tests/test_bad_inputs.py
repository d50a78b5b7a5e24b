"""A corpus of 200+ malformed or odd inputs derived from the real files of ../shared/data.

Every case is a command line a user could type on an input derived from a real file
(VISEM-Tracking labels, a MOTChallenge file, a Detections CSV, SVIA's Pascal VOC XML, the
SVIA, hackathon and VISEM-like videos, VISEM frame folders) with one thing wrong or odd,
and its expected outcome: the exit code (0 ok, 1 bad input, 2 bad usage), words the
message must hold (the file, the line or frame, what was expected), and for failures that
the output was not written. No case may end in a traceback (an uncaught exception fails
the test). The count is printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spermlab.cli import main

VISEM = "visem_tracking/11"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path, Path], list[str]]  # (work folder, data folder) -> argv
    code: int
    says: tuple[str, ...] = ()
    out: str | None = None  # relative to the work folder: must not exist after a failure


def _mini_visem(work: Path, data: Path, n: int = 3) -> Path:
    """A 3-frame copy of VISEM-Tracking video 11 (labels, labels_ftid; images linked)."""
    root = work / "v11"
    for sub in ("images", "labels", "labels_ftid"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        (root / "images" / f"11_frame_{i}.jpg").symlink_to(data / VISEM / "images" / f"11_frame_{i}.jpg")
        shutil.copy(data / VISEM / "labels" / f"11_frame_{i}.txt", root / "labels")
        shutil.copy(data / VISEM / "labels_ftid" / f"11_frame_{i}_with_ftid.txt", root / "labels_ftid")
    return root


def _replace_line(path: Path, line_no: int, text: str | None) -> None:
    lines = path.read_text().splitlines()
    if text is None:
        del lines[line_no - 1]
    else:
        lines[line_no - 1] = text
    path.write_text("\n".join(lines) + "\n")


# -- label lines (VISEM-Tracking / YOLO) ---------------------------------------------

LABEL_LINES = [  # (what, line 2 of frame 1 becomes, exit code, words in the message)
    ("four fields", "0 0.5 0.5 0.02", 1, ("expected 5",)),
    ("six fields", "0 0.5 0.5 0.02 0.03 7", 1, ("expected 5",)),
    ("class not an integer", "x 0.5 0.5 0.02 0.03", 1, ("class",)),
    ("class float", "0.0 0.5 0.5 0.02 0.03", 1, ("class",)),
    ("class negative", "-1 0.5 0.5 0.02 0.03", 1, ("class",)),
    ("class unknown", "9 0.5 0.5 0.02 0.03", 1, ("class",)),
    ("x above 1", "0 1.5 0.5 0.02 0.03", 1, ("[0, 1]",)),
    ("x negative", "0 -0.1 0.5 0.02 0.03", 1, ("[0, 1]",)),
    ("y above 1", "0 0.5 1.01 0.02 0.03", 1, ("[0, 1]",)),
    ("width zero", "0 0.5 0.5 0 0.03", 1, ("width",)),
    ("width negative", "0 0.5 0.5 -0.02 0.03", 1, ("width",)),
    ("height above 1", "0 0.5 0.5 0.02 1.2", 1, ("height",)),
    ("NaN", "0 nan 0.5 0.02 0.03", 1, ("nan",)),
    ("infinity", "0 inf 0.5 0.02 0.03", 1, ("inf",)),
    ("decimal commas", "0 0,5 0,5 0,02 0,03", 1, ("0,5",)),
    ("semicolons", "0;0.5;0.5;0.02;0.03", 1, ("expected 5",)),
    ("unicode minus", "0 \u22120.1 0.5 0.02 0.03", 1, ("\u22120.1",)),
    ("bad exponent", "0 0.5e 0.5 0.02 0.03", 1, ("0.5e",)),
    ("trailing comment", "0 0.5 0.5 0.02 0.03 # ok", 1, ("expected 5",)),
    ("text", "hello", 1, ("expected 5",)),
    ("tabs between fields", "0\t0.5\t0.5\t0.02\t0.03", 0, ()),
    ("blank line", "", 0, ()),
    ("spaces only", "   ", 0, ()),
    ("line removed", None, 0, ()),
    ("extra spaces", "0  0.5   0.5 0.02  0.03 ", 0, ()),
]


def _label_case(what, text, code, says, layout):
    def build(work, data):
        root = _mini_visem(work, data)
        if layout == "labels":
            f = root / "labels" / "11_frame_1.txt"
            _replace_line(f, 2, text)
            return ["convert", str(root), "--boxes", "--to", "csv", "--out", str(work / "o.csv")]
        _replace_line(root / "labels" / "11_frame_1.txt", 2, text)  # the same in both layouts
        f = root / "labels_ftid" / "11_frame_1_with_ftid.txt"
        lines = f.read_text().splitlines()
        ftid = lines[1].split()[0]
        _replace_line(f, 2, None if text is None else (f"{ftid} {text}" if text.strip() else text))
        return ["convert", str(root), "--to", "csv", "--out", str(work / "o.csv")]

    where = ("11_frame_1", ":2") if code else ()
    return Case(f"{layout}: {what}", build, code, where + says, "o.csv")


def label_cases() -> list[Case]:
    out = [_label_case(*row, layout) for layout in ("labels", "labels_ftid") for row in LABEL_LINES]

    def binary(work, data):
        root = _mini_visem(work, data)
        (root / "labels" / "11_frame_2.txt").write_bytes(b"\x00\xff\xfe garbage \x80\x81")
        return ["convert", str(root), "--boxes", "--to", "csv", "--out", str(work / "o.csv")]

    def empty_folder(work, data):
        root = _mini_visem(work, data)
        for f in (root / "labels").iterdir():
            f.unlink()
        return ["convert", str(root), "--boxes", "--to", "csv", "--out", str(work / "o.csv")]

    def dup_ftid(work, data):
        root = _mini_visem(work, data)
        f = root / "labels_ftid" / "11_frame_0_with_ftid.txt"
        lines = f.read_text().splitlines()
        lines[1] = lines[0].split()[0] + " " + " ".join(lines[1].split()[1:])
        f.write_text("\n".join(lines) + "\n")
        return ["convert", str(root), "--to", "csv", "--out", str(work / "o.csv")]

    def missing_label_file(work, data):
        root = _mini_visem(work, data)
        (root / "labels" / "11_frame_1.txt").unlink()
        return ["convert", str(root), "--boxes", "--to", "csv", "--out", str(work / "o.csv")]

    out += [
        Case("labels: binary garbage file", binary, 1, ("11_frame_2",), "o.csv"),
        Case("labels: folder with no label files", empty_folder, 1, ("labels", "no label files"), "o.csv"),
        Case("labels_ftid: one id twice in a frame", dup_ftid, 1, ("11_frame_0",), "o.csv"),
        Case("labels: one frame's file missing", missing_label_file, 0, ()),
    ]
    return out


# -- MOTChallenge rows ------------------------------------------------------------------

MOT_ROWS = [  # line 3 becomes
    ("eight fields", "2,1,10,10,5,5,1,-1", 1, ("expected",)),
    ("eleven fields", "2,1,10,10,5,5,1,-1,-1,-1,9", 1, ("expected",)),
    ("frame zero", "0,1,10,10,5,5,1,-1,-1,-1", 1, ("frame",)),
    ("frame negative", "-3,1,10,10,5,5,1,-1,-1,-1", 1, ("frame",)),
    ("frame text", "two,1,10,10,5,5,1,-1,-1,-1", 1, ("two",)),
    ("frame fractional", "2.5,1,10,10,5,5,1,-1,-1,-1", 1, ("2.5",)),
    ("id text", "2,abc,10,10,5,5,1,-1,-1,-1", 1, ("abc",)),
    ("id negative", "2,-4,10,10,5,5,1,-1,-1,-1", 1, ("id",)),
    ("width negative", "2,1,10,10,-5,5,1,-1,-1,-1", 1, ("width",)),
    ("height zero", "2,1,10,10,5,0,1,-1,-1,-1", 1, ("height",)),
    ("x NaN", "2,1,nan,10,5,5,1,-1,-1,-1", 1, ("nan",)),
    ("score text", "2,1,10,10,5,5,high,-1,-1,-1", 1, ("high",)),
    ("semicolons", "2;1;10;10;5;5;1;-1;-1;-1", 1, ("expected",)),
    ("header line", "frame,id,x,y,w,h,score,a,b,c", 1, ("frame",)),
    ("same id twice in a frame", None, 1, ("t.txt:4", "again")),
    ("x text", "2,1,left,10,5,5,1,-1,-1,-1", 1, ("left",)),
    ("frame empty", ",1,10,10,5,5,1,-1,-1,-1", 1, ("frame",)),
    ("id zero", "2,0,10,10,5,5,1,-1,-1,-1", 1, ("id",)),
    ("width infinite", "2,1,10,10,inf,5,1,-1,-1,-1", 1, ("inf",)),
    ("decimal comma values", "2,1,10,10,5,5,0,9,-1,-1,-1", 1, ("expected",)),
    ("spaces after commas", "2, 1, 10, 10, 5, 5, 1, -1, -1, -1", 0, ()),
    ("trailing blank line", "", 0, ()),
]


def mot_cases() -> list[Case]:
    def case(what, text, code, says):
        def build(work, data):
            rows = ["1,1,100,100,16,17,0.9,-1,-1,-1", "1,2,200,100,16,17,0.8,-1,-1,-1",
                    "2,1,101,100,16,17,0.9,-1,-1,-1", "2,2,201,101,16,17,0.8,-1,-1,-1"]  # fmt: skip
            rows[2] = rows[3] if text is None else text  # None: frame 2 holds id 2 twice
            f = work / "t.txt"
            f.write_text("\n".join(rows) + "\n")
            return ["convert", str(f), "--to", "csv", "--out", str(work / "o.csv")]

        where = () if text is None else ("t.txt:3",)
        return Case(f"mot: {what}", build, code, (where + says) if code else (), "o.csv")

    out = [case(*row) for row in MOT_ROWS]

    def empty(work, data):
        (work / "t.txt").write_text("")
        return ["convert", str(work / "t.txt"), "--to", "csv", "--out", str(work / "o.csv")]

    def utf16(work, data):
        (work / "t.txt").write_text("1,1,100,100,16,17,0.9,-1,-1,-1\n", encoding="utf-16")
        return ["convert", str(work / "t.txt"), "--to", "csv", "--out", str(work / "o.csv")]

    out += [Case("mot: empty file", empty, 0, ()),
            Case("mot: UTF-16 text", utf16, 1, ("t.txt",), "o.csv")]  # fmt: skip
    return out


# -- Detections CSV rows ------------------------------------------------------------------

CSV_ROWS = [  # the second data row becomes
    ("frame text", "one,10,10,5,5,0,0.9", ("frame",)),
    ("frame fractional", "1.5,10,10,5,5,0,0.9", ("frame",)),
    ("x NaN", "1,,10,5,5,0,0.9", ("x",)),
    ("y infinity", "1,10,inf,5,5,0,0.9", ("y",)),
    ("class text", "1,10,10,5,5,sperm,0.9", ("cls",)),
    ("too few values", "1,10,10", ("",)),
    ("too many values", "1,10,10,5,5,0,0.9,7,8", ("",)),
    ("score text", "1,10,10,5,5,0,high", ("score",)),
]


def csv_cases() -> list[Case]:
    header = "frame,x,y,w,h,cls,score"

    def case(what, row, says):
        def build(work, data):
            (work / "d.csv").write_text("\n".join([header, "0,10,10,5,5,0,0.9", row, "2,11,10,5,5,0,0.8"]) + "\n")
            return ["track", str(work / "d.csv"), "--preset", "visem", "--out", str(work / "t.csv")]

        return Case(f"csv: {what}", build, 1, ("d.csv",) + says, "t.csv")

    out = [case(*row) for row in CSV_ROWS]

    def variant(what, text, code, says=()):
        def build(work, data):
            (work / "d.csv").write_bytes(text if isinstance(text, bytes) else text.encode())
            return ["track", str(work / "d.csv"), "--preset", "visem", "--out", str(work / "t.csv")]

        return Case(f"csv: {what}", build, code, ("d.csv",) + says if code else (), "t.csv")

    out += [
        variant("column 'class' instead of 'cls'", "frame,x,y,w,h,class,score\n0,1,1,5,5,0,1\n", 1, ("cls",)),
        variant("no cls column", "frame,x,y,w,h,score\n0,1,1,5,5,1\n", 1, ("cls",)),
        variant("empty file", "", 1),
        variant("header only", header + "\n", 0),
        variant("semicolon separated", header.replace(",", ";") + "\n0;1;1;5;5;0;1\n", 1, ("frame",)),
        variant("UTF-8 BOM", "\ufeff" + header + "\n0,1,1,5,5,0,1\n", 0),
        variant("latin-1 bytes", b"frame,x,y,w,h,cls,score\n0,1,1,5,5,0,1\n\xe9,1,1,5,5,0,1\n", 1),
        variant("extra column kept", header + ",note\n0,1,1,5,5,0,1,ok\n", 0),
        variant("columns in another order", "x,y,frame,w,h,cls,score\n1,1,0,5,5,0,1\n", 0),
        variant("a parquet named .csv", b"PAR1\x00\x00garbage", 1),
    ]
    return out


# -- Pascal VOC XML (SVIA) ------------------------------------------------------------------

def _svia(work: Path, data: Path) -> Path:
    folder = work / "voc"
    folder.mkdir()
    for f in sorted((data / "videos" / "svia" / "subset_A").glob("S_0002_*.xml"))[:4]:
        shutil.copy(f, folder)
    return folder


XML_EDITS = [  # (what, function of the text of S_0002_0002.xml, exit code, words)
    ("truncated", lambda t: t[: len(t) // 2], 1, ("S_0002_0002.xml",)),
    ("empty file", lambda t: "", 1, ("S_0002_0002.xml",)),
    ("not XML", lambda t: "hello, world", 1, ("S_0002_0002.xml",)),
    ("no size", lambda t: _cut(t, "<size>", "</size>"), 1, ("size",)),
    ("width zero", lambda t: t.replace("<width>698</width>", "<width>0</width>"), 1, ("width",)),
    ("width text", lambda t: t.replace("<width>698</width>", "<width>wide</width>"), 1, ("width",)),
    ("no bndbox", lambda t: _cut(t, "<bndbox>", "</bndbox>", once=True), 1, ("bndbox",)),
    ("xmin text", lambda t: t.replace("<xmin>", "<xmin>a", 1), 1, ("xmin",)),
    ("xmin after xmax", lambda t: _swap_first(t, "xmin", "xmax"), 1, ("xmin",)),
    ("box outside the image", lambda t: _set_first(t, "xmax", "9000"), 1, ("inside [0, 698]", "9000")),
    ("negative coordinate", lambda t: _set_first(t, "ymin", "-40"), 1, ("inside [0, 698]", "-40")),
    ("unknown class", lambda t: t.replace("<name>S</name>", "<name>Cell</name>", 1), 1, ("Cell",)),
    ("no name", lambda t: _cut(t, "<name>", "</name>", once=True), 1, ("name",)),
    ("fractional coordinates", lambda t: _set_first(t, "xmin", "248.5"), 0, ()),
    ("no objects", lambda t: _cut(t, "<object>", "</object>", once=False), 0, ()),
    ("impurity only", lambda t: t.replace("<name>S</name>", "<name>Impurity</name>"), 0, ()),
    ("UTF-8 BOM", lambda t: "\ufeff" + t, 0, ()),
    ("Windows line ends", lambda t: t.replace("\n", "\r\n"), 0, ()),
    ("DOCTYPE entity", lambda t: t.replace("<annotation>", '<!DOCTYPE a [<!ENTITY x "y">]><annotation>', 1), 1,
     ("S_0002_0002.xml",)),
]


def _cut(text: str, start: str, end: str, once: bool = True) -> str:
    while start in text:
        i = text.index(start)
        j = text.index(end, i) + len(end)
        text = text[:i] + text[j:]
        if once:
            break
    return text


def _set_first(text: str, tag: str, value: str) -> str:
    i = text.index(f"<{tag}>") + len(tag) + 2
    j = text.index(f"</{tag}>", i)
    return text[:i] + value + text[j:]


def _swap_first(text: str, a: str, b: str) -> str:
    va = text[text.index(f"<{a}>") + len(a) + 2: text.index(f"</{a}>")]
    vb = text[text.index(f"<{b}>") + len(b) + 2: text.index(f"</{b}>")]
    return _set_first(_set_first(text, a, vb), b, va)


def xml_cases() -> list[Case]:
    def case(what, edit, code, says):
        def build(work, data):
            folder = _svia(work, data)
            f = folder / "S_0002_0002.xml"
            f.write_text(edit(f.read_text(encoding="utf-8")), encoding="utf-8")
            return ["convert", str(folder), "--boxes", "--to", "csv", "--out", str(work / "o.csv")]

        return Case(f"voc: {what}", build, code, says, "o.csv")

    out = [case(*row) for row in XML_EDITS]

    def two_videos(work, data):
        folder = _svia(work, data)
        shutil.copy(data / "videos" / "svia" / "subset_A" / "S_0001_0001.xml", folder)
        return ["convert", str(folder), "--boxes", "--to", "csv", "--out", str(work / "o.csv")]

    def one_of_two(work, data):
        folder = _svia(work, data)
        shutil.copy(data / "videos" / "svia" / "subset_A" / "S_0001_0001.xml", folder)
        return ["convert", str(folder / "S_0002"), "--boxes", "--to", "csv", "--out", str(work / "o.csv")]

    out += [Case("voc: two videos in one folder", two_videos, 1, ("FOLDER/STEM", "S_0001"), "o.csv"),
            Case("voc: FOLDER/STEM picks one", one_of_two, 0, ())]  # fmt: skip
    return out


# -- videos -------------------------------------------------------------------------------

VIDEOS = {"mpeg4": "videos/svia/S_0002.mp4",
          "h264": "videos/fertilisers_hackathon/sample1_vid1_sperm9_id92.mp4",
          "h264-visem": "videos/visem_like/seg_000.mp4"}  # fmt: skip


def _analyze(path: Path, work: Path, *extra: str) -> list[str]:
    return ["analyze", str(path), "--um-per-px", "0.3", "--out", str(work / "r"), "-q", *extra]


def video_cases() -> list[Case]:
    out = []
    for codec, rel in VIDEOS.items():
        def truncated(work, data, rel=rel, frac=0.02):
            src = (data / rel).read_bytes()
            (work / "cut.mp4").write_bytes(src[: int(len(src) * frac)])
            return _analyze(work / "cut.mp4", work)

        def truncated_half(work, data, rel=rel):
            src = (data / rel).read_bytes()
            (work / "cut.mp4").write_bytes(src[: len(src) // 2])
            return _analyze(work / "cut.mp4", work)

        def zeroed_header(work, data, rel=rel):
            src = bytearray((data / rel).read_bytes())
            src[:64] = bytes(64)
            (work / "bad.mp4").write_bytes(bytes(src))
            return _analyze(work / "bad.mp4", work)

        def damaged(work, data, rel=rel):
            src = bytearray((data / rel).read_bytes())
            at = int(len(src) * 0.3)
            src[at: at + 4000] = bytes(4000)
            (work / "damaged.mp4").write_bytes(bytes(src))
            return _analyze(work / "damaged.mp4", work)

        out += [Case(f"video {codec}: bytes zeroed in the middle", damaged, 1,
                     ("damaged.mp4", "frame", "damaged"), "r")]  # fmt: skip
        out += [Case(f"video {codec}: first 2 % of the file", truncated, 1, ("cut.mp4",), "r"),
                Case(f"video {codec}: first half of the file", truncated_half, 1, ("cut.mp4",), "r"),
                Case(f"video {codec}: header zeroed", zeroed_header, 1, ("bad.mp4",), "r")]  # fmt: skip

    def zero_byte(work, data):
        (work / "z.mp4").write_bytes(b"")
        return _analyze(work / "z.mp4", work)

    def text_mp4(work, data):
        (work / "notes.mp4").write_text("these are my notes, not a video\n")
        return _analyze(work / "notes.mp4", work)

    def png_mp4(work, data):
        shutil.copy(data / VISEM / "images" / "11_frame_0.jpg", work / "frame.mp4")
        return _analyze(work / "frame.mp4", work)

    def single_image(work, data):
        return _analyze(data / VISEM / "images" / "11_frame_0.jpg", work)

    def fps_rate(rate, name):
        def build(work, data):
            import av

            with av.open(str(work / name), "w") as c:
                s = c.add_stream("mpeg4", rate=rate)
                s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
                for i in range(5):
                    grey = np.full((48, 64, 3), 10 * i, np.uint8)
                    c.mux(s.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")))
                c.mux(s.encode())
            return _analyze(work / name, work)

        return build

    def spaces(work, data):
        d = work / "my videos ü ñ"
        d.mkdir()
        shutil.copy(data / VIDEOS["mpeg4"], d / "S 0002 é.mp4")
        return _analyze(d / "S 0002 é.mp4", work)

    def audio_only(work, data):
        import av

        with av.open(str(work / "sound.mp4"), "w") as c:
            s = c.add_stream("aac", rate=8000)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 8000
            for p in s.encode(frame):
                c.mux(p)
            for p in s.encode():
                c.mux(p)
        return _analyze(work / "sound.mp4", work)

    out += [
        Case("video: zero-byte file", zero_byte, 1, ("z.mp4", "0-byte"), "r"),
        Case("video: a text file named .mp4", text_mp4, 1, ("notes.mp4",), "r"),
        Case("video: a JPEG named .mp4", png_mp4, 1, ("frame.mp4",), "r"),
        Case("video: a single image", single_image, 1, ("11_frame_0.jpg", "single image"), "r"),
        Case("video: 2000 fps in the container", fps_rate(2000, "fast.mp4"), 1, ("fast.mp4", "--fps"), "r"),
        Case("video: 0.5 fps in the container", fps_rate(Fraction(1, 2), "slow.mp4"), 1, ("slow.mp4", "--fps"), "r"),
        Case("video: path with spaces and non-ASCII", spaces, 0, ()),
        Case("video: audio only", audio_only, 1, ("sound.mp4", "video stream"), "r"),
    ]
    return out


# -- frame folders ---------------------------------------------------------------------------

def _frame_folder(work: Path, data: Path, numbers, name="11_frame_{}.jpg") -> Path:
    folder = work / "frames"
    folder.mkdir()
    for i, n in enumerate(numbers):
        (folder / name.format(n)).symlink_to(data / VISEM / "images" / f"11_frame_{i}.jpg")
    return folder


def folder_cases() -> list[Case]:
    def run(folder, work, *extra):
        return ["analyze", str(folder), "--preset", "visem", "--out", str(work / "r"), "-q", *extra]

    def simple(numbers, name="11_frame_{}.jpg", extra=()):
        return lambda work, data: run(_frame_folder(work, data, numbers, name), work, *extra)

    def edited(edit):
        def build(work, data):
            folder = _frame_folder(work, data, range(12))
            edit(folder)
            return run(folder, work)

        return build

    def mixed_sizes(folder):
        (folder / "11_frame_5.jpg").unlink()
        Image.new("L", (320, 240), 90).save(folder / "11_frame_5.jpg")

    def sixteen_bit(folder):
        for f in folder.iterdir():
            img = np.asarray(Image.open(f).convert("L")).astype(np.uint16) * 257
            f.unlink()
            Image.fromarray(img).save(f.with_suffix(".png"))

    def colour(folder):
        for f in folder.iterdir():
            rgb = Image.open(f).convert("RGB")
            f.unlink()
            rgb.save(f.with_suffix(".png"))

    def zero_byte(folder):
        (folder / "11_frame_7.jpg").unlink()
        (folder / "11_frame_7.jpg").write_bytes(b"")

    def text_jpg(folder):
        (folder / "11_frame_7.jpg").unlink()
        (folder / "11_frame_7.jpg").write_text("not an image")

    def truncated_jpg(folder):
        src = (folder / "11_frame_7.jpg").read_bytes()
        (folder / "11_frame_7.jpg").unlink()
        (folder / "11_frame_7.jpg").write_bytes(src[: len(src) // 3])

    def unnumbered(folder):
        Image.new("L", (640, 480), 90).save(folder / "thumbnail.png")

    def duplicate(folder):
        (folder / "11_frame_07.jpg").symlink_to((folder / "11_frame_7.jpg").resolve())

    def hidden(folder):
        (folder / ".DS_Store").write_bytes(b"\x00\x01")
        (folder / "notes.txt").write_text("ignored")

    def empty(work, data):
        (work / "frames").mkdir()
        return run(work / "frames", work)

    def one_frame(work, data):
        return run(_frame_folder(work, data, [0]), work)

    return [
        Case("folder: numbered from 1050", simple(range(1050, 1062)), 0, ()),
        Case("folder: ffmpeg 0001.jpg", simple(range(1, 13), "{:04d}.jpg"), 0, ()),
        Case("folder: numbered from 500", simple(range(500, 512), "img{}.jpg"), 0, ()),
        Case("folder: a gap", simple([0, 1, 2, 3, 6, 7, 8]), 1, ("frames 4-5 missing", "--allow-gaps"), "r"),
        Case("folder: a gap, allowed", simple([0, 1, 2, 3, 6, 7, 8], extra=("--allow-gaps",)), 0, ()),
        Case("folder: mixed frame sizes", edited(mixed_sizes), 1, ("11_frame_5", "320x240"), "r"),
        Case("folder: 16-bit frames", edited(sixteen_bit), 1, ("11_frame_0.png", "8-bit"), "r"),
        Case("folder: colour frames", edited(colour), 0, ()),
        Case("folder: a zero-byte frame", edited(zero_byte), 1, ("11_frame_7",), "r"),
        Case("folder: a text file named .jpg", edited(text_jpg), 1, ("11_frame_7",), "r"),
        Case("folder: a truncated JPEG", edited(truncated_jpg), 1, ("11_frame_7",), "r"),
        Case("folder: an unnumbered image", edited(unnumbered), 1, ("thumbnail.png", "frame number"), "r"),
        Case("folder: one frame number twice", edited(duplicate), 1, ("frame 7 appears twice",), "r"),
        Case("folder: hidden and text files", edited(hidden), 0, ()),
        Case("folder: empty", empty, 1, ("frames", "expected"), "r"),
        Case("folder: a single frame", one_frame, 0, ()),
    ]


# -- outputs and options ---------------------------------------------------------------------

def _boxes_csv(work: Path) -> Path:
    (work / "boxes.csv").write_text("frame,x,y,w,h,cls,score\n0,100,100,16,17,0,0.9\n")
    return work / "boxes.csv"


def option_cases() -> list[Case]:
    def sim(work: Path) -> Path:
        folder = work / "frames"
        if not folder.exists():
            folder.mkdir()
            rng = np.random.default_rng(0)
            for i in range(12):
                Image.fromarray(rng.integers(80, 100, (96, 128), dtype=np.uint8)).save(folder / f"f_{i}.png")
        return folder

    def args(*extra, out="r"):
        def build(work, data):
            return ["analyze", str(sim(work)), "--out", str(work / out), "-q", *extra]

        return build

    def out_is_file(work, data):
        (work / "taken").write_text("mine")
        return ["analyze", str(sim(work)), "--preset", "visem", "--out", str(work / "taken"), "-q"]

    def out_under_file(work, data):
        (work / "taken").write_text("mine")
        return ["analyze", str(sim(work)), "--preset", "visem", "--out", str(work / "taken" / "r"), "-q"]

    def foreign(work, data):
        (work / "mine").mkdir()
        (work / "mine" / "paper.tex").write_text("mine")
        return ["analyze", str(sim(work)), "--preset", "visem", "--out", str(work / "mine"), "-q"]

    def stage_out(suffix):
        def build(work, data):
            return ["detect", str(sim(work)), "--preset", "visem", "--out", str(work / f"d{suffix}")]

        return build

    def stage_out_dir(work, data):
        (work / "d.csv").mkdir()
        return ["detect", str(sim(work)), "--preset", "visem", "--out", str(work / "d.csv")]

    def bad_model(work, data):
        (work / "m.onnx").write_text("not a model")
        return ["analyze", str(sim(work)), "--preset", "visem", "--detector-model", str(work / "m.onnx"),
                "--out", str(work / "r"), "-q"]

    cases = [
        Case("option: no scale at all", args("--fps", "50"), 2, ("--um-per-px",), "r"),
        Case("option: frame folder without fps", args("--um-per-px", "0.3"), 2, ("--fps",), "r"),
        Case("option: --out is a file", out_is_file, 2, ("is a file",), None),
        Case("option: --out inside a file", out_under_file, 2, ("taken",), None),
        Case("option: --out holds other files", foreign, 2, ("did not write",), None),
        Case("option: detect --out .txt", stage_out(".txt"), 2, (".csv or .parquet",), "d.txt"),
        Case("option: detect --out .xlsx", stage_out(".xlsx"), 2, (".csv or .parquet",), "d.xlsx"),
        Case("option: detect --out a folder", stage_out_dir, 2, ("folder",), None),
        Case("option: unknown preset", args("--preset", "casa9000"), 2, ("casa9000", "visem"), "r"),
        Case("option: unknown detector", args("--preset", "visem", "--detector", "magic"), 2, ("magic",), "r"),
        Case("option: missing model file", args("--preset", "visem", "--detector-model", "no.onnx"), 2,
             ("no.onnx",), "r"),
        Case("option: not an ONNX model", bad_model, 1, ("m.onnx",), "r"),
        Case("option: --weights without --detector yolo", args("--preset", "visem", "--weights", "w.onnx"), 2,
             ("--weights",), "r"),
        Case("option: --video and --report together", args("--preset", "visem", "--report", "--video"), 0, ()),
        Case("option: yolo weights file missing", args("--preset", "visem", "--detector", "yolo", "--weights",
             "gone.pt"), 2, ("gone.pt",), "r"),
        Case("option: convert --to xlsx", lambda w, d: ["convert", str(_mini_visem(w, d)), "--to", "xlsx",
             "--out", str(w / "o.xlsx")], 2, ("xlsx",), "o.xlsx"),
        Case("option: report on a folder that is not a result", lambda w, d: ["report", str(w)], 1,
             ("summary.json",), None),
        Case("option: tracking scored on boxes without ids", lambda w, d: [
            "evaluate", "tracking", "--pred", str(_boxes_csv(w)), "--gt", str(d / VISEM)], 1,
            ("boxes.csv", "without track ids"), None),
        Case("option: a labels/ folder pointed at directly", lambda w, d: [
            "evaluate", "detection", "--pred", str(_mini_visem(w, d) / "labels"), "--gt",
            str(_mini_visem(w / "b", d))], 0, (), None),
        Case("option: --match unknown", lambda w, d: ["evaluate", "detection", "--pred", str(_mini_visem(w, d)),
             "--gt", str(d / VISEM), "--match", "nearest"], 2, ("nearest",), None),
    ]
    for flag, value, says in [
        ("--um-per-px", "0", "--um-per-px"), ("--um-per-px", "-1", "--um-per-px"),
        ("--um-per-px", "nan", "--um-per-px"), ("--um-per-px", "inf", "--um-per-px"),
        ("--um-per-px", "30", "--um-per-px 30"), ("--um-per-px", "0.001", "--um-per-px 0.001"),
        ("--um-per-px", "abc", "--um-per-px"), ("--fps", "0", "--fps"), ("--fps", "-5", "--fps"),
        ("--fps", "5000", "--fps"), ("--fps", "nan", "--fps"), ("--depth-um", "0", "--depth-um"),
        ("--depth-um", "-3", "--depth-um"), ("--depth-um", "ten", "--depth-um"),
    ]:  # fmt: skip
        base = ["--preset", "visem"] if flag != "--um-per-px" else ["--fps", "50"]
        cases.append(Case(f"option: {flag} {value}", args(*base, flag, value), 2, (says,), "r"))
    return cases


# -- Tracks tables (spermlab measure) -------------------------------------------------------

TRACK_ROWS = [  # the third data row becomes
    ("track id text", "2,12,10,5,5,0,0.9,seven", 1, ("track_id",)),
    ("track id missing", "2,12,10,5,5,0,0.9,", 1, ("track_id",)),
    ("track id fractional", "2,12,10,5,5,0,0.9,1.5", 1, ("track_id",)),
    ("one track twice in a frame", "1,12,10,5,5,0,0.9,1", 1, ("track 1 twice in frame 1", "lines 3 and 4")),
    ("frame negative", "-2,12,10,5,5,0,0.9,1", 0, ()),
    ("x text", "2,left,10,5,5,0,0.9,1", 1, ("x",)),
]


def track_cases() -> list[Case]:
    header = "frame,x,y,w,h,cls,score,track_id"
    rows = [f"{f},{10 + f},10,5,5,0,0.9,1" for f in range(12)]

    def case(what, row, code, says):
        def build(work, data):
            body = rows[:2] + [row] + rows[3:]
            (work / "t.csv").write_text("\n".join([header, *body]) + "\n")
            return ["measure", str(work / "t.csv"), "--preset", "visem", "--out", str(work / "k.csv")]

        return Case(f"tracks: {what}", build, code, ("t.csv",) + says if code else (), "k.csv")

    out = [case(*r) for r in TRACK_ROWS]

    def no_track_id(work, data):
        (work / "t.csv").write_text("frame,x,y,w,h,cls,score\n0,1,1,5,5,0,1\n")
        return ["measure", str(work / "t.csv"), "--preset", "visem", "--out", str(work / "k.csv")]

    def too_short(work, data):
        (work / "t.csv").write_text("\n".join([header, *rows[:3]]) + "\n")
        return ["measure", str(work / "t.csv"), "--preset", "visem", "--out", str(work / "k.csv")]

    out += [Case("tracks: no track_id column", no_track_id, 1, ("t.csv", "track_id"), "k.csv"),
            Case("tracks: every track too short to measure", too_short, 0, ())]  # fmt: skip
    return out


# -- results folders (spermlab report, evaluate) -------------------------------------------

def results_cases() -> list[Case]:
    def folder(work: Path) -> Path:
        r = work / "res"
        r.mkdir()
        return r

    def make(edit, verb="report"):
        def build(work, data):
            r = folder(work)
            src = work / "sim"
            if not (src / "frames").exists():
                (src / "frames").mkdir(parents=True)
                rng = np.random.default_rng(1)
                for i in range(12):
                    Image.fromarray(rng.integers(80, 100, (96, 128), dtype=np.uint8)).save(src / "frames" / f"f_{i}.png")
            shutil.rmtree(r)
            assert main(["analyze", str(src / "frames"), "--preset", "visem", "--out", str(r), "-q"]) == 0
            edit(r)
            if verb == "report":
                return ["report", str(r), "--out", str(work / "rep.html"), "-q"]
            return ["evaluate", "detection", "--pred", str(r), "--gt", str(r), "-q"]

        return build

    def rm(name):
        return lambda r: (r / name).unlink()

    def garble(name, text):
        return lambda r: (r / name).write_text(text)

    return [
        Case("results: summary.json missing", make(rm("summary.json")), 1, ("summary.json",), "rep.html"),
        Case("results: summary.json not JSON", make(garble("summary.json", "{oops")), 1, ("summary.json",),
             "rep.html"),
        Case("results: tracks.parquet missing", make(rm("tracks.parquet")), 1, ("tracks.parquet",), "rep.html"),
        Case("results: kinematics.parquet garbled", make(garble("kinematics.parquet", "x")), 1,
             ("kinematics.parquet",), "rep.html"),
        Case("results: evaluate without summary.json", make(rm("summary.json"), "evaluate"), 1, ("res",)),
        Case("results: evaluate with a garbled detections table",
             make(garble("detections.parquet", "x"), "evaluate"), 1, ("detections.parquet",)),
    ]


# -- VISEM clinical CSV (evaluate agreement --ref) -----------------------------------------

def clinical_cases() -> list[Case]:
    def make(edit, code, says):
        def build(work, data):
            src = (data / "visem" / "semen_analysis_data.csv").read_text(encoding="utf-8-sig")
            (work / "semen_analysis_data.csv").write_text("\ufeff" + edit(src), encoding="utf-8")
            (work / "mine.csv").write_text("id,progressive_pct\n1,50\n2,20\n")
            return ["evaluate", "agreement", "--pred", str(work / "mine.csv"), "--ref",
                    str(work / "semen_analysis_data.csv"), "--columns", "progressive_pct", "--only-shared"]

        return build

    def row(i, f):
        def edit(text):
            lines = text.splitlines()
            lines[i] = f(lines[i])
            return "\n".join(lines) + "\n"

        return edit

    return [
        Case("clinical: a value with a decimal point", make(row(1, lambda ln: ln.replace("105,3", "105.3")), 1,
             ("semen_analysis_data.csv", ":2")), 1, ("semen_analysis_data.csv",)),
        Case("clinical: text in a number", make(row(2, lambda ln: ln.replace("45,4", "lots")), 1, ()), 1,
             ("semen_analysis_data.csv", ":3", "lots")),
        Case("clinical: id twice", make(row(2, lambda ln: "1" + ln[ln.index(";"):]), 1, ()), 1,
             ("semen_analysis_data.csv",)),
        Case("clinical: a row cut short", make(row(3, lambda ln: ln[: len(ln) // 2]), 1, ()), 1,
             ("semen_analysis_data.csv", ":4")),
        Case("clinical: commas for semicolons", make(row(0, lambda ln: ln.replace(";", ",")), 1, ()), 1,
             ("semen_analysis_data.csv",)),
        Case("clinical: Not reported", make(row(4, lambda ln: ";".join(
            [ln.split(";")[0], "Not reported", *ln.split(";")[2:]])), 0, ()), 0, ()),
    ]


ALL = (label_cases() + mot_cases() + csv_cases() + xml_cases() + video_cases() + folder_cases() + option_cases()
       + track_cases() + results_cases() + clinical_cases())


def test_the_corpus_is_large_enough():
    print(f"\nbad-input corpus: {len(ALL)} cases")
    assert len(ALL) >= 200, len(ALL)
    assert len({c.name for c in ALL}) == len(ALL)


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_bad_input(case: Case, data_dir, tmp_path, capsys):
    argv = case.build(tmp_path, data_dir)
    code = main(argv)
    err = capsys.readouterr().err
    flat = " ".join(err.split())
    assert "Traceback" not in err
    assert code == case.code, f"{case.name}: exit {code}, expected {case.code}; stderr: {err}"
    for word in case.says:
        assert word in flat, f"{case.name}: {word!r} not in the message: {err}"
    if case.code != 0 and case.out is not None:
        assert not (tmp_path / case.out).exists(), f"{case.name}: partial output {case.out}"
