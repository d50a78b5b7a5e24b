"""``spermlab simulate`` (filled in with spermlab.simulate)."""
