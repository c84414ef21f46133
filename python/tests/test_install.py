"""Installing like a Debian library: `cmake --install --prefix P` puts everything under P (the
Python package in P/lib/python3.X/dist-packages, for PYTHONPATH), and the installed package
loads the library copy beside it (ONDINE_LIBRARY unset, from outside the source tree);
`make install`'s default prefix, staged with DESTDIR, lands the package on /usr/bin/python3's
sys.path as before; `pip install ./python` works offline in a venv."""
import os
import subprocess
import sys

import ondine
from conftest import BUILD, ROOT

PYDIR = "lib/python%d.%d/dist-packages" % sys.version_info[:2]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ONDINE_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env.update(extra)
    return env


def imported_from(python, env, cwd):
    """ondine's package file, library and version as `python` imports them."""
    return subprocess.run(
        [python, "-c", "import ondine; print(ondine.__file__); print(ondine.library_path); "
         "print(ondine.__version__)"],
        check=True, capture_output=True, text=True, env=env, cwd=cwd).stdout.split("\n")[:3]


def test_install_into_a_prefix_holds_everything(tmp_path):
    prefix = tmp_path / "p"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix)], check=True,
                   capture_output=True)
    manifest = open(os.path.join(BUILD, "install_manifest.txt")).read().split()
    assert manifest and all(f.startswith(str(prefix) + "/") for f in manifest), manifest
    pkg_dir = str(prefix / PYDIR)
    for f in ["include/ondine.h", "lib/libondine.so.0", "bin/ondine", "lib/pkgconfig/ondine.pc",
              PYDIR + "/ondine/__init__.py", PYDIR + "/ondine/libondine.so.0"]:
        assert (prefix / f).exists(), f
    out = imported_from("/usr/bin/python3", clean_env(PYTHONPATH=pkg_dir), tmp_path)
    assert out == [os.path.join(pkg_dir, "ondine", "__init__.py"),
                   os.path.join(pkg_dir, "ondine", "libondine.so.0"), ondine.__version__]
    # The pkg-config file points into the prefix wherever it is.
    inc = subprocess.run(["pkg-config", "--variable=includedir", "ondine"], check=True,
                         capture_output=True, text=True,
                         env=clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig")))
    assert os.path.realpath(inc.stdout.strip()) == os.path.realpath(prefix / "include")


def test_staged_default_install_is_on_the_system_path(tmp_path):
    stage = tmp_path / "stage"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr/local"], check=True,
                   capture_output=True, env={**os.environ, "DESTDIR": str(stage)})
    python_dir = "/usr/local/" + PYDIR
    sys_path = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('\\n'.join(sys.path))"],
                              check=True, capture_output=True, text=True).stdout.split("\n")
    assert python_dir in sys_path
    pkg_dir = str(stage) + python_dir
    out = imported_from("/usr/bin/python3", clean_env(PYTHONPATH=pkg_dir), tmp_path)
    assert out[1] == os.path.join(pkg_dir, "ondine", "libondine.so.0")


def test_pip_install_offline_in_a_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, capture_output=True)
    python = str(venv / "bin" / "python")
    lib = os.path.join(BUILD, "lib", "libondine.so.0")
    subprocess.run([python, "-m", "pip", "install", "--no-index", "--no-build-isolation",
                    os.path.join(ROOT, "python")], check=True, capture_output=True,
                   env=clean_env(ONDINE_LIBRARY=lib))
    out = imported_from(python, clean_env(), tmp_path)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    assert out == [os.path.join(site, "ondine", "__init__.py"),
                   os.path.join(site, "ondine", "libondine.so.0"), ondine.__version__]
