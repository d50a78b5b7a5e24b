"""Reports a clinician reads: the sample's HTML report and its annotated video.

================================  ===================================================
:func:`write_report`              one self-contained HTML file (``report.html``): the
                                  WHO 2021 grades against the lower reference limits,
                                  a quality badge, the track map, distributions,
                                  quality control and provenance
:func:`write_annotated_video`     the recording as H.264 MP4 with every head boxed,
                                  labelled with its track id and trailed, coloured by
                                  grade (``annotated.mp4``)
================================  ===================================================

Both read a finished results folder (DESIGN §6); neither prints nor selects a
matplotlib backend.

Examples
--------
>>> from spermlab.report import write_annotated_video, write_report
>>> write_report("r11")  # doctest: +SKIP
PosixPath('r11/report.html')
>>> write_annotated_video("r11", "visem_tracking/11")  # doctest: +SKIP
PosixPath('r11/annotated.mp4')
"""

from __future__ import annotations

from spermlab.report.annotate import ANNOTATED, annotate_frame, write_annotated_video
from spermlab.report.html import REPORT, render_report, write_report
from spermlab.report.plots import GRADE_COLOURS, UNGRADED_COLOUR
from spermlab.report.quality import Quality, assess

__all__ = [
    "ANNOTATED",
    "GRADE_COLOURS",
    "REPORT",
    "UNGRADED_COLOUR",
    "Quality",
    "annotate_frame",
    "assess",
    "render_report",
    "write_annotated_video",
    "write_report",
]
