#!/usr/bin/python3
"""docs/c-api.md's build lines, run: tests/link_example.c compiled and linked with pkg-config
against the build tree (ondine-uninstalled.pc: headers from the source tree, the library and
an rpath from build/lib; the program runs with no LD_LIBRARY_PATH) and against `make install`
staged with DESTDIR (ondine.pc, PKG_CONFIG_SYSROOT_DIR; the run is given the staged lib
folder). Usage: c_api_link.py SOURCE_DIR BUILD_DIR WORK_DIR"""
import os
import shutil
import subprocess
import sys

src, build, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
example = os.path.join(src, "tests", "link_example.c")
model = os.path.join(src, "examples", "models", "resnet20_fashion.onnx")
env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PKG_CONFIG_PATH")}


def pkg_config(**extra):
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ondine"], check=True,
                           capture_output=True, text=True, env={**env, **extra}).stdout.split()
    return flags


def build_and_run(name, flags, **run_env):
    exe = os.path.join(work, name)
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", example, "-o", exe, *flags],
                   check=True)
    p = subprocess.run([exe, model], capture_output=True, text=True, env={**env, **run_env})
    assert p.returncode == 0 and p.stdout == "output 1x10\n", (name, p.stdout, p.stderr)


# The build tree: the -uninstalled .pc wins, with its rpath.
flags = pkg_config(PKG_CONFIG_PATH=build)
assert f"-I{os.path.join(src, 'include')}" in flags, flags
assert any(f.startswith("-Wl,-rpath,") for f in flags), flags
build_and_run("from_build_tree", flags)

# A staged install: ondine.pc under DESTDIR/<prefix>/lib*/pkgconfig.
stage = os.path.join(work, "stage")
subprocess.run(["cmake", "--install", build], check=True, capture_output=True,
               env={**env, "DESTDIR": stage})
pcs = [os.path.join(d, f) for d, _, fs in os.walk(stage) for f in fs if f == "ondine.pc"]
assert len(pcs) == 1, pcs
flags = pkg_config(PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=stage)
libdir = next(f[2:] for f in flags if f.startswith("-L"))
build_and_run("from_install", flags, LD_LIBRARY_PATH=libdir)
print("c_api_link: ok")
