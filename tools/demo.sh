#!/bin/sh
# make demo: the ResNet paper's CIFAR nets, trained on Fashion-MNIST (examples/models/, made by
# tools/train/train_fashion.py; nothing is trained here), run by ondine on the 10k test images:
# ResNet-20 in full (accuracy, per class, confusion matrix, images/s, agreement with torch),
# what ondine's optimizer did to it, then plain-20 vs ResNet-20 vs ResNet-56 beside torch's
# accuracy, then ResNet-20 in fp32, bf16 and int8 (calibrated on training images).
# Usage: tools/demo.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
models=examples/models
out="$build/demo"
mkdir -p "$out"
# OpenMP threads that spin at barriers crawl when other jobs share the cores: on this project's
# shared 2-core machine ResNet-20 ran at 170 images/s spinning and 970 sleeping. Spinning may
# win on an idle machine: OMP_WAIT_POLICY=ACTIVE make demo to compare.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_WAIT_POLICY

# A value from a record written by train_fashion.py: one "key": value per line.
record() {
    sed -n "s/^ \"$2\": \(.*\),\$/\1/p" "$models/$1_fashion.json"
}

echo "== ResNet-20 on the Fashion-MNIST test set (ondine)"
"$build/bin/classify_fashion" "$models/resnet20_fashion.onnx" \
    --compare "$models/resnet20_fashion.json" | tee "$out/resnet20.txt"

echo
if "$build/bin/ondine" inspect --help | grep -q -- --passes; then
    echo "== What ondine's optimizer did to ResNet-20 (ondine inspect --passes)"
    "$build/bin/ondine" inspect "$models/resnet20_fashion.onnx" --passes
else
    echo "== ResNet-20 as ondine loads it (ondine inspect; this build's inspect has no --passes"
    echo "   to list what the optimizer did)"
    "$build/bin/ondine" inspect "$models/resnet20_fashion.onnx"
fi

echo
echo "== Plain-20 vs ResNet-20 vs ResNet-56 (10k test images)"
for arch in plain20 resnet56; do
    echo "   running $arch ..."
    "$build/bin/classify_fashion" "$models/${arch}_fashion.onnx" \
        --compare "$models/${arch}_fashion.json" > "$out/$arch.txt"
done
fmt='%-10s %6s  %-10s %6s  %10s  %9s  %9s  %10s  %8s\n'
printf "$fmt" model layers shortcuts epochs "train loss" "torch acc" "ondine acc" "differ/10k" images/s
for arch in plain20 resnet20 resnet56; do
    txt="$out/$arch.txt"
    case $arch in
        plain20) name=plain-20 layers=20 ;;
        resnet20) name=ResNet-20 layers=20 ;;
        resnet56) name=ResNet-56 layers=56 ;;
    esac
    shortcuts=$(record "$arch" shortcuts | sed 's/"//g; s/ (option B)//')
    loss=$(sed -n 's/^ *"train_loss": \(.*\),$/\1/p' "$models/${arch}_fashion.json" | tail -n 1)
    torch=$(record "$arch" test_accuracy | awk '{ printf "%.2f%%", 100 * $1 }')
    ondine=$(sed -n 's/^accuracy *\([0-9.]*%\).*/\1/p' "$txt")
    differ=$(sed -n 's/^compare .*; ondine labels \([0-9]*\) of.*/\1/p' "$txt")
    speed=$(sed -n 's/^speed .*: \([0-9]*\) images\/s/\1/p' "$txt")
    printf "$fmt" "$name" "$layers" "$shortcuts" "$(record "$arch" epochs)" "$loss" "$torch" \
        "$ondine" "$differ" "$speed"
done
echo "(train loss: torch's mean over the last epoch; torch acc: from examples/models/*.json;"
echo " differ: test images ondine labels differently from torch; full outputs in $out/)"

echo
echo "== ResNet-20 in fp32, bf16 and int8 (int8 calibrated on the first 1000 training images)"
fmt='%-10s %10s  %8s\n'
printf "$fmt" precision "ondine acc" images/s
for p in fp32 bf16 int8; do
    txt="$out/resnet20_$p.txt"
    if "$build/bin/classify_fashion" "$models/resnet20_fashion.onnx" --precision "$p" \
        > "$txt" 2>&1; then
        printf "$fmt" "$p" "$(sed -n 's/^accuracy *\([0-9.]*%\).*/\1/p' "$txt")" \
            "$(sed -n 's/^speed .*: \([0-9]*\) images\/s/\1/p' "$txt")"
    else
        printf "%-10s %s\n" "$p" "$(tail -n 1 "$txt")"
    fi
done
