"""`make install`'s Python part, staged with DESTDIR: the package lands in a directory that
/usr/bin/python3 imports from, and the installed package loads the library copy beside it
(with ONDINE_LIBRARY unset, from a directory outside the source tree)."""
import os
import re
import subprocess

import ondine
from conftest import BUILD


def configured_python_dir():
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    return re.search(r"^ONDINE_PYTHON_DIR:PATH=(.*)$", cache, re.M).group(1)


def test_staged_install_imports_its_own_library(tmp_path):
    python_dir = configured_python_dir()
    stage = tmp_path / "stage"
    subprocess.run(["cmake", "--install", BUILD], check=True, capture_output=True,
                   env={**os.environ, "DESTDIR": str(stage)})
    pkg_dir = str(stage) + python_dir
    # Debian's python imports from the real directory without PYTHONPATH.
    sys_path = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('\\n'.join(sys.path))"],
                              check=True, capture_output=True, text=True).stdout.split("\n")
    assert python_dir in sys_path
    env = {k: v for k, v in os.environ.items() if k not in ("ONDINE_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = pkg_dir
    out = subprocess.run(
        ["/usr/bin/python3", "-c",
         "import ondine; print(ondine.__file__); print(ondine.library_path); "
         "print(ondine.__version__)"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path).stdout.split("\n")
    assert out[0] == os.path.join(pkg_dir, "ondine", "__init__.py")
    assert out[1] == os.path.join(pkg_dir, "ondine", "libondine.so.0")
    assert out[2] == ondine.__version__
