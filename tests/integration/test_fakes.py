"""Runs the tracker fakes' own tests under tests/run.sh: tests/fakes/test_fake_github.py (the
GitHub fake), tests/fakes/test_fake_jira.py (the Jira fake, both flavours) and
tests/fakes/test_fake_base.py (the machinery they are built on).

They need neither PostgreSQL nor closeloopd: the fake is what the sync tests stand on, so it
is checked first-hand here. The modules are loaded under other names (fakes_*), and this
file's own name is none of theirs: the sync tests put tests/fakes first on sys.path, where
a module named like one of them would be found instead of this one. Helper classes (names ending in TestCase) hold no tests of their own.
"""

import importlib.util
import os
import sys
import unittest

_fakes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes")

for _file in ("test_fake_github.py", "test_fake_jira.py", "test_fake_base.py"):
    _spec = importlib.util.spec_from_file_location("fakes_" + _file[:-3],
                                                   os.path.join(_fakes, _file))
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _mod
    _spec.loader.exec_module(_mod)
    for _name in dir(_mod):
        _obj = getattr(_mod, _name)
        if isinstance(_obj, type) and issubclass(_obj, unittest.TestCase) and \
                _obj.__module__ == _spec.name and not _name.endswith("TestCase"):
            _key = _file[len("test_fake_"):-3].title() + "_" + _name  # Github_AuthTest ...
            if _key in globals():
                raise ImportError(f"{_file}: test class {_name} is defined twice")
            globals()[_key] = _obj

if __name__ == "__main__":
    unittest.main()
