"""pytest setup for ondine's Python tests: the repository, the build tree and the exported
models. ctest (python/CMakeLists.txt) sets PYTHONPATH, ONDINE_LIBRARY and ONDINE_BUILD_DIR; by
hand, from the repository root after building:

    PYTHONPATH=python /usr/bin/python3 -m pytest -p no:cacheprovider python/tests
"""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ONDINE_BUILD_DIR", os.path.join(ROOT, "build"))


@pytest.fixture(scope="session")
def resnet18():
    """build/models/resnet18_bnkeep_op13: torchvision's ResNet-18 (seeded random weights,
    BatchNormalization kept, batch axis "N") with torch's outputs for batch 1 and 4."""
    d = os.path.join(BUILD, "models", "resnet18_bnkeep_op13")
    version = os.path.join(d, "exporter_version")
    # An older exporter's folder (other weights) is exported again.
    if not os.path.exists(os.path.join(d, "test_data_set_1", "output_0.pb")) or \
            not os.path.exists(version) or open(version).read().strip() != "2":
        script = os.path.join(ROOT, "tools", "models", "export_torchvision.py")
        subprocess.run(["/usr/bin/python3", script, "--model", "resnet18", "--opset", "13",
                        "--bn", "keep", "--out", os.path.join(BUILD, "models")], check=True)
    return d


@pytest.fixture(scope="session")
def status():
    """{enum ond_status name: value}, read from include/ondine.h (the C contract the exception
    classes must follow)."""
    text = open(os.path.join(ROOT, "include", "ondine.h")).read()
    body = re.search(r"enum ond_status \{(.*?)\};", text, re.S).group(1)
    names = re.findall(r"^\s*(OND_\w+)", body, re.M)
    return {name: i for i, name in enumerate(names)}
