#!/bin/sh
# make demo: the ResNet paper's CIFAR nets, trained on Fashion-MNIST (examples/models/, made by
# tools/train/train_fashion.py; nothing is trained here), run by ondine on the 10k test images:
# ResNet-20 in full (accuracy, per class, confusion matrix, images/s, agreement with torch),
# what ondine's optimizer did to it, then the paper's degradation experiment (plain-20/56 and
# ResNet-20/56, one schedule) with torch's and ondine's errors and whether the degradation
# shows, then ResNet-20 in fp32, bf16 and int8 (calibrated on training images).
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
echo "== The paper's degradation experiment: plain-20/56 vs ResNet-20/56 (10k test images)"
for arch in plain20 plain56 resnet56; do
    echo "   running $arch ..."
    "$build/bin/classify_fashion" "$models/${arch}_fashion.onnx" \
        --compare "$models/${arch}_fashion.json" > "$out/$arch.txt"
done
fmt='%-10s %6s  %-10s %6s  %11s  %11s  %12s  %10s  %8s\n'
printf "$fmt" model layers shortcuts epochs "train error" "torch test" "ondine test" \
    "differ/10k" images/s
for arch in plain20 plain56 resnet20 resnet56; do
    txt="$out/$arch.txt"
    case $arch in
        plain*) name=plain-${arch#plain} ;;
        resnet*) name=ResNet-${arch#resnet} ;;
    esac
    shortcuts=$(record "$arch" shortcuts | sed 's/"//g')
    train=$(record "$arch" train_error | awk '{ printf "%.2f%%", 100 * $1 }')
    torch=$(record "$arch" test_error | awk '{ printf "%.2f%%", 100 * $1 }')
    ondine=$(sed -n 's/^accuracy *\([0-9.]*\)%.*/\1/p' "$txt" | awk '{ printf "%.2f%%", 100 - $1 }')
    differ=$(sed -n 's/^compare .*; ondine labels \([0-9]*\) of.*/\1/p' "$txt")
    speed=$(sed -n 's/^speed .*: \([0-9]*\) images\/s/\1/p' "$txt")
    printf "$fmt" "$name" "$(record "$arch" layers)" "$shortcuts" "$(record "$arch" epochs)" \
        "$train" "$torch" "$ondine" "$differ" "$speed"
done
echo "(train error: torch's, over the last epoch's batches; test error: torch's from"
echo " examples/models/*.json and ondine's here; differ: test images ondine labels unlike torch;"
echo " full outputs in $out/)"
# The paper's finding: the deeper plain net trains to a higher error than the shallower one,
# while the deeper ResNet trains to no higher an error than the shallower one.
p20=$(record plain20 train_error) p56=$(record plain56 train_error)
r20=$(record resnet20 train_error) r56=$(record resnet56 train_error)
awk -v p20="$p20" -v p56="$p56" -v r20="$r20" -v r56="$r56" 'BEGIN {
    plain = p56 > p20
    res = r56 <= r20
    printf "plain-56 trains to %.2f%% against plain-20'"'"'s %.2f%% (%s); ", 100 * p56, 100 * p20,
        plain ? "higher" : "not higher"
    printf "ResNet-56 to %.2f%% against ResNet-20'"'"'s %.2f%% (%s)\n", 100 * r56, 100 * r20,
        res ? "no higher" : "higher"
    if (plain && res)
        print "verdict: the degradation shows, and the residual nets avoid it, as in the paper"
    else if (plain)
        print "verdict: the plain nets degrade, but so do the residual nets: the result of the " \
              "paper does not show in full at this budget"
    else
        print "verdict: the degradation does not show at this budget"
}'

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
