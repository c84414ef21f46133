#!/usr/bin/env bash
# ort.sh BUILD_DIR: installs ONNX Runtime's npm package onnxruntime-node, at the version the docs
# name (the oracle of the ORT-checked tests and the peer of `make bench`), into BUILD_DIR/node.
# Its install script would download from the internet; the CPU binary is in the npm tarball, so
# scripts are skipped. Without npm or the registry it says so and exits 1: the tests that need
# ONNX Runtime then report SKIPPED.
set -u
ORT_VERSION=1.30.0
prefix="${1:?usage: ort.sh BUILD_DIR}/node"
pkg="$prefix/node_modules/onnxruntime-node/package.json"
if [ -f "$pkg" ] && grep -q "\"version\": \"$ORT_VERSION\"" "$pkg"; then
    exit 0
fi
mkdir -p "$prefix"
if ! command -v npm >/dev/null ||
    ! npm install --ignore-scripts --no-audit --no-fund --prefix "$prefix" \
        "onnxruntime-node@$ORT_VERSION" >/dev/null; then
    echo "ort.sh: could not install onnxruntime-node@$ORT_VERSION into $prefix:" \
        "the tests checked against ONNX Runtime will be skipped" >&2
    exit 1
fi
