"""A missing optional dependency names the pip command that installs it."""

import pytest

from spermlab._optional import require


def test_missing_module_names_the_extra():
    with pytest.raises(ImportError, match=r"flow needs no_such_module_xyz: pip install 'spermlab\[deep\]'"):
        require("no_such_module_xyz", "deep", "flow")
    assert require("json", "core", "x").dumps([1]) == "[1]"
