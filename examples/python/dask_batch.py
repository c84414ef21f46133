#!/usr/bin/python3
"""dask_batch.py: classify the Fashion-MNIST test set with ondine, scaled out on Dask.

Reads the test set (IDX gzip files), splits it into shards, classifies each shard on a Dask
worker and gathers the predicted labels; prints accuracy and throughput. Each worker process
holds one ondine.InferenceSession, created once and reused by every task it runs: a worker
plugin (OndineClassifier) carries the model's bytes to each worker, current or joining later,
and builds the session in its setup(). The model bytes travel with the plugin, so workers on
other machines need the ondine package (make install) but not the model file.

By default a LocalCluster of --workers processes bound to 127.0.0.1; --scheduler ADDRESS uses a
running cluster instead. --local classifies the same shards in this process without Dask: the
single-process evaluation, which the distributed one must match label for label.

The model takes float [N,1,28,28] pixels scaled to [0,1] and returns [N,10] logits
(examples/models/resnet20_fashion.onnx, made by tools/train/train_fashion.py).

    /usr/bin/python3 examples/python/dask_batch.py --workers 2 --threads 1
"""
import argparse
import gzip
import json
import logging
import os
import struct
import sys
import time

import numpy as np
from distributed import Client, LocalCluster, WorkerPlugin, get_worker

import ondine

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.normpath(os.path.join(HERE, "..", "models", "resnet20_fashion.onnx"))
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
IMAGES_MAGIC, LABELS_MAGIC = 0x803, 0x801  # IDX: unsigned bytes, 3 and 1 dims


def read_idx(path, magic, ndim):
    """An IDX file's array, after checking its magic number, dims and length."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        sys.exit(f"dask_batch: {path}: {e}")
    header = 4 + 4 * ndim
    if len(data) < header:
        sys.exit(f"dask_batch: {path}: {len(data)} bytes, shorter than an IDX header")
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        sys.exit(f"dask_batch: {path}: magic {got:#010x}, expected {magic:#010x}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != int(np.prod(dims)):
        sys.exit(f"dask_batch: {path}: {len(data) - header} bytes of data for dims {dims}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def read_test_set(folder):
    images = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"), IMAGES_MAGIC, 3)
    labels = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"), LABELS_MAGIC, 1)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        sys.exit(f"dask_batch: {folder}: {images.shape} images for {labels.shape[0]} labels, "
                 "expected [N,28,28] and N labels")
    if labels.size and labels.max() > 9:
        sys.exit(f"dask_batch: {folder}: label {labels.max()} out of 0..9")
    return images, labels


class Classifier:
    """One InferenceSession over the model, and the classification of a shard with it."""

    def __init__(self, model_bytes, threads, batch):
        self.session = ondine.InferenceSession(model_bytes, threads=threads)
        self.input = self.session.get_inputs()[0].name
        self.batch = batch

    def __call__(self, images):
        """(predicted labels, seconds in ondine) for uint8 images [n,28,28]."""
        labels = np.empty(len(images), np.int64)
        t0 = time.perf_counter()
        for i in range(0, len(images), self.batch):
            x = images[i:i + self.batch, None].astype(np.float32) / 255.0
            logits, = self.session.run(None, {self.input: x})
            labels[i:i + len(x)] = logits.argmax(axis=1)
        return labels, time.perf_counter() - t0


class OndineClassifier(WorkerPlugin):
    """Gives each worker process one Classifier, built when the plugin reaches the worker."""

    name = "ondine-classifier"

    def __init__(self, model_bytes, threads, batch):
        self.model_bytes, self.threads, self.batch = model_bytes, threads, batch
        self.classifier = None

    def setup(self, worker):
        self.classifier = Classifier(self.model_bytes, self.threads, self.batch)


def classify_on_worker(images):
    """A task: the shard's labels from this worker's session, its time, who ran it and which
    session (to show that each worker reuses one)."""
    worker = get_worker()
    classify = worker.plugins[OndineClassifier.name].classifier
    labels, seconds = classify(images)
    return labels, seconds, worker.address, id(classify.session)


def run_local(model_bytes, shards, threads, batch):
    """(results per shard, seconds to set up, seconds to classify) in this process."""
    t0 = time.perf_counter()
    classify = Classifier(model_bytes, threads, batch)
    t1 = time.perf_counter()
    results = [classify(s) + ("this process", id(classify.session)) for s in shards]
    return results, t1 - t0, time.perf_counter() - t1


def run_dask(client, model_bytes, shards, threads, batch):
    """The same on the client's cluster; setting up is the sessions' creation on workers."""
    t0 = time.perf_counter()
    client.register_worker_plugin(OndineClassifier(model_bytes, threads, batch))
    t1 = time.perf_counter()
    # Scattered shards spread over the workers; each task runs where its shard is.
    results = client.gather(client.map(classify_on_worker, client.scatter(shards)))
    return results, t1 - t0, time.perf_counter() - t1


def main():
    cores = os.cpu_count() or 1
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="default: %(default)s")
    ap.add_argument("--data", default=DEFAULT_DATA,
                    help="Fashion-MNIST folder (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=2,
                    help="LocalCluster worker processes (default: %(default)s); with "
                    "--scheduler, the workers to size the defaults below for")
    ap.add_argument("--threads", type=int,
                    help="ondine threads per session (default: this machine's cores / "
                    "workers, at least 1; with --scheduler, give the workers' machines' cores "
                    "/ workers per machine)")
    ap.add_argument("--shards", type=int, help="default: 4 per worker")
    ap.add_argument("--batch", type=int, default=100, help="images per run (default: %(default)s)")
    ap.add_argument("--limit", type=int, help="only the first N test images")
    ap.add_argument("--scheduler", metavar="ADDRESS",
                    help="a running Dask scheduler instead of a LocalCluster")
    ap.add_argument("--local", action="store_true",
                    help="classify the shards in this process, without Dask")
    ap.add_argument("--predictions", metavar="FILE.npy", help="write the predicted labels")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    for flag in ("workers", "threads", "shards", "batch", "limit"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            ap.error(f"--{flag} takes a whole number >= 1")
    # One process alone (--local) has all the cores to itself.
    threads = args.threads or max(1, cores // (1 if args.local else args.workers))
    images, labels = read_test_set(args.data)
    if not os.path.isfile(args.model):
        sys.exit(f"dask_batch: no model at {args.model} (make it with "
                 "tools/train/train_fashion.py, or pass --model)")
    with open(args.model, "rb") as f:
        model_bytes = f.read()
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    n_shards = min(args.shards or 4 * args.workers, len(images))
    shards = np.array_split(images, n_shards)

    # Throughput counts classifying only: starting a cluster and creating sessions are paid
    # once, not per image (setup_s reports the latter).
    if args.local:
        where = "this process, no Dask"
        results, setup, wall = run_local(model_bytes, shards, threads, args.batch)
    elif args.scheduler:
        where = f"scheduler {args.scheduler}"
        with Client(args.scheduler) as client:
            results, setup, wall = run_dask(client, model_bytes, shards, threads, args.batch)
    else:
        where = f"LocalCluster of {args.workers} worker processes on 127.0.0.1"
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", scheduler_port=0, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            results, setup, wall = run_dask(client, model_bytes, shards, threads, args.batch)

    predicted = np.concatenate([r[0] for r in results])
    correct = int((predicted == labels).sum())
    busy = {}
    for _, seconds, who, _ in results:
        busy[who] = busy.get(who, 0.0) + seconds
    report = {"model": args.model, "where": where, "images": len(labels), "shards": n_shards,
              "threads_per_session": threads, "correct": correct,
              "accuracy": correct / len(labels), "setup_s": round(setup, 3),
              "wall_s": round(wall, 3), "images_per_s": round(len(labels) / wall, 1),
              "sessions": len({(r[2], r[3]) for r in results}),
              "session_s": {k: round(v, 3) for k, v in sorted(busy.items())}}
    if args.predictions:
        np.save(args.predictions, predicted)
    if args.json:
        print(json.dumps(report))
        return
    print(f"model: {args.model}")
    print(f"on: {where}; {threads} ondine thread(s) per session")
    print(f"images: {len(labels)} in {n_shards} shards")
    print(f"accuracy: {100 * report['accuracy']:.2f}% ({correct}/{len(labels)})")
    print(f"throughput: {report['images_per_s']:.0f} images/s ({wall:.2f} s wall; "
          f"{report['sessions']} session(s) set up in {setup:.2f} s)")
    for who, seconds in report["session_s"].items():
        print(f"  {who}: {seconds:.2f} s in ondine")


if __name__ == "__main__":
    main()
