"""Runs the GitHub fake's own tests (tests/fakes/test_fake_github.py) under tests/run.sh.

They need neither PostgreSQL nor closeloopd: the fake is what the sync tests stand on, so it
is checked first-hand here. The module is loaded under another name because this file has
the same one.
"""

import importlib.util
import os
import sys
import unittest

_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes",
                     "test_fake_github.py")
_spec = importlib.util.spec_from_file_location("fakes_test_fake_github", _path)
_mod = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _mod
_spec.loader.exec_module(_mod)

for _name in dir(_mod):
    _obj = getattr(_mod, _name)
    if isinstance(_obj, type) and issubclass(_obj, unittest.TestCase) and \
            _obj.__module__ == _spec.name and _name != "FakeTestCase":
        globals()[_name] = _obj

if __name__ == "__main__":
    unittest.main()
