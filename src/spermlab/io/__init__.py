"""Readers and writers: video, frame folders, VISEM / VISEM-Tracking, MOT, COCO, Pascal VOC."""
