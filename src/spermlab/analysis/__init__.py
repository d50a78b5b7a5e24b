"""Per-track kinematics, WHO 2021 motility grades and the sample result."""
