#!/bin/sh
# make demo: until the Fashion-MNIST demo lands, export torchvision ResNet-50 (BatchNormalization
# kept, seeded weights) and show what ondine sees in it. Usage: tools/demo.sh BUILD_DIR
set -eu
build=${1:-build}
out="$build/models"
if [ ! -f "$out/resnet50_bnkeep_op13/model.onnx" ]; then
    /usr/bin/python3 "$(dirname "$0")/models/export_torchvision.py" --model resnet50 --opset 13 \
        --bn keep --no-data --out "$out"
fi
"$build/bin/ondine" inspect "$out/resnet50_bnkeep_op13/model.onnx"
