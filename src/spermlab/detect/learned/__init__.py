"""Learned detectors (YOLO via Ultralytics, optional extra ``spermlab[yolo]``)."""
