"""``spermlab convert``: VISEM-Tracking <-> MOTChallenge <-> COCO (filled in with io/)."""
