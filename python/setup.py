"""setup.py: copies libondine into the package (ondine/libondine.so.0, where _lib.py looks
first after ONDINE_LIBRARY), so that a pip-installed ondine needs nothing else. The library
is the one ONDINE_LIBRARY names, else the build tree's (build/lib at the repository's top);
metadata is in pyproject.toml."""
import os
import shutil

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libondine.so.0"


def library():
    path = os.environ.get("ONDINE_LIBRARY") or os.path.join(HERE, "..", "build", "lib", SONAME)
    if not os.path.exists(path):
        raise SystemExit(f"ondine: no library at {path}: build it first (make), or set "
                         f"ONDINE_LIBRARY to the path of libondine.so")
    return os.path.realpath(path)


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if not self.dry_run:
            shutil.copyfile(library(), os.path.join(self.build_lib, "ondine", SONAME))


class BinaryDistribution(Distribution):
    """The wheel holds a shared library: tag it for this platform, not py3-none-any."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
