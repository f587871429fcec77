"""Image loaders on real offline data: Fashion-MNIST (Debian package) and the 20 real CIFAR-10 test images
shipped in foolbox, written into the official cifar-10-batches-py layout the way users receive it."""
from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from PIL import Image

from pipelines import load_dataset
from pipelines.images import CIFAR10_CLASSES, load_cifar10, load_images, read_cifar_batch, read_idx


# ----------------------------------------------------------------------------------------------- Fashion-MNIST
def test_fmnist_pair_counts_range_and_labels(fmnist_dir):
    ds = load_dataset("fmnist:2,4")
    assert ds.x_train.shape == (12000, 784) and ds.x_test.shape == (2000, 784)
    assert ds.x_train.dtype == np.float32 and ds.sample_shape == (28, 28, 1)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0 and ds.clip_values == (0.0, 1.0)
    assert ds.class_names == ("Pullover", "Coat")
    assert np.bincount(ds.y_train).tolist() == [6000, 6000] and np.bincount(ds.y_test).tolist() == [1000, 1000]
    # the first Pullover (label 2) of the raw test file is the first class-0 row, scaled by 1/255
    raw_x, raw_y = read_idx(fmnist_dir / "t10k-images-idx3-ubyte.gz"), read_idx(fmnist_dir / "t10k-labels-idx1-ubyte.gz")
    first = raw_x[np.flatnonzero(raw_y == 2)[0]].reshape(-1) / 255.0
    np.testing.assert_allclose(ds.x_test[np.flatnonzero(ds.y_test == 0)[0]], first, atol=1e-7)
    # the labels carry the classes: a nearest-centroid rule separates Pullover from Coat well above chance
    centroids = np.stack([ds.x_train[ds.y_train == c].mean(0) for c in (0, 1)])
    pred = np.argmin(((ds.x_test[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (pred == ds.y_test).mean() > 0.7


def test_fmnist_cache_and_names(fmnist_dir):
    a = load_dataset("fmnist:pullover,coat")
    b = load_dataset("fmnist:2,4")
    assert a.provenance["cache_file"] == b.provenance["cache_file"]
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert b.provenance["files"] and all(re.fullmatch(r"[0-9a-f]{32}", v) for v in b.provenance["files"].values())
    c = load_dataset("fmnist:4,2", cache=False)      # order picks which class is 0
    np.testing.assert_array_equal(c.y_test, 1 - b.y_test)


def test_fmnist_missing_files_say_what_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz.*dataset-fashion-mnist"):
        load_dataset("fmnist:2,4", data_dir=tmp_path)


@pytest.mark.parametrize("spec", ["fmnist:2", "fmnist:2,2", "fmnist:2,11", "fmnist:hat,coat"])
def test_bad_class_pairs(spec, tmp_path):
    with pytest.raises(ValueError):
        load_dataset(spec, data_dir=tmp_path)


# ----------------------------------------------------------------------------------------------- CIFAR-10
def _png_label(path):
    return int(path.stem.split("_")[-1])


def _write_batch(path, images, labels, name):
    """The official python format: a pickled dict whose b'data' rows are the R, G, B planes of each image."""
    data = np.stack([im.transpose(2, 0, 1).reshape(-1) for im in images]).astype(np.uint8)
    entry = {b"batch_label": name.encode(), b"labels": [int(l) for l in labels], b"data": data,
             b"filenames": [f"{i}.png".encode() for i in range(len(labels))]}
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=2)


@pytest.fixture
def cifar_dir(tmp_path, foolbox_cifar_pngs):
    images = [np.asarray(Image.open(p).convert("RGB")) for p in foolbox_cifar_pngs]
    labels = [_png_label(p) for p in foolbox_cifar_pngs]
    root = tmp_path / "cifar" / "cifar-10-batches-py"
    root.mkdir(parents=True)
    for b in range(5):
        _write_batch(root / f"data_batch_{b + 1}", images[4 * b:4 * b + 4], labels[4 * b:4 * b + 4], f"training batch {b + 1} of 5")
    _write_batch(root / "test_batch", images, labels, "testing batch 1 of 1")
    return root, np.stack(images), np.array(labels)


def test_cifar_batch_decodes_hwc(cifar_dir):
    root, images, labels = cifar_dir
    x, y = read_cifar_batch(root / "test_batch")
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, images)          # channel order and pixel layout survive the round trip
    np.testing.assert_array_equal(y, labels)


def test_cifar_pair_from_local_batches(cifar_dir):
    root, images, labels = cifar_dir
    ds = load_cifar10(root.parent, classes=(0, 1), verify=False, download=False)
    assert ds.class_names == ("airplane", "automobile") and ds.sample_shape == (32, 32, 3)
    want = np.flatnonzero(np.isin(labels, [0, 1]))
    assert len(ds.y_test) == len(want) == 4 and len(ds.y_train) == 4
    np.testing.assert_array_equal(ds.y_test, (labels[want] == 1).astype(int))
    np.testing.assert_allclose(ds.x_test, images[want].reshape(len(want), -1) / 255.0, atol=1e-7)
    assert 0.0 <= ds.x_test.min() and ds.x_test.max() <= 1.0
    # ship (8) vs truck (9) through the spec parser and class names
    ds2 = load_dataset("cifar10:ship,truck", data_dir=root, verify=False, download=False)
    assert len(ds2.y_test) == int(np.isin(labels, [8, 9]).sum()) and ds2.class_names == CIFAR10_CLASSES[8:]


def test_cifar_md5_mismatch_is_reported(cifar_dir):
    root, _, _ = cifar_dir
    with pytest.raises(ValueError, match=r"data_batch_1 has md5 [0-9a-f]{32}, the official file has c99cafc1"):
        load_cifar10(root.parent, verify=True, download=False)


def test_cifar_missing_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_batch_1 expected at .*cifar-10-python\.tar\.gz"):
        load_cifar10(tmp_path, download=False)


def test_cifar_refuses_pickled_code(tmp_path):
    import os

    bad = tmp_path / "test_batch"
    bad.write_bytes(pickle.dumps({"data": os.system}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_cifar_batch(bad)


# ----------------------------------------------------------------------------------------------- folder layouts
def test_imagenet_and_gtsrb_layouts(tmp_path, foolbox_cifar_pngs):
    """Layout parsing and Pillow resizing, exercised with real photos placed in the standard folders."""
    pngs = foolbox_cifar_pngs
    inet = tmp_path / "imagenet"
    for split, part in (("train", pngs[:12]), ("val", pngs[12:16])):
        for k, wnid in enumerate(("n01440764", "n01443537")):
            d = inet / split / wnid
            d.mkdir(parents=True)
            for i, p in enumerate(part[k::2]):
                (d / f"{wnid}_{i}.JPEG").write_bytes(p.read_bytes())
    (inet / "train" / "n01484850").mkdir()
    ds = load_dataset("imagenet:0,1", data_dir=inet, size=16)
    assert ds.x_train.shape == (12, 16 * 16 * 3) and ds.x_test.shape == (4, 768)
    assert ds.class_names == ("n01440764", "n01443537") and np.bincount(ds.y_train).tolist() == [6, 6]
    np.testing.assert_allclose(ds.x_train[0], load_images([pngs[0]], 16)[0].reshape(-1) / 255.0, atol=1e-7)

    g = tmp_path / "gtsrb"
    for c, part in ((3, pngs[:5]), (8, pngs[5:9])):
        d = g / "GTSRB" / "Final_Training" / "Images" / f"{c:05d}"
        d.mkdir(parents=True)
        for i, p in enumerate(part):
            Image.open(p).save(d / f"00000_{i:05d}.ppm")
    t = g / "GTSRB" / "Final_Test" / "Images"
    t.mkdir(parents=True)
    rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i, (p, c) in enumerate(zip(pngs[9:15], (3, 8, 1, 3, 8, 8))):
        Image.open(p).save(t / f"{i:05d}.ppm")
        rows.append(f"{i:05d}.ppm;32;32;0;0;31;31;{c}")
    (g / "GT-final_test.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset("gtsrb:3,8", data_dir=g, size=48)
    assert ds.x_train.shape == (9, 48 * 48 * 3) and ds.y_train.tolist() == [0] * 5 + [1] * 4
    assert ds.y_test.tolist() == [0, 1, 0, 1, 1] and ds.sample_shape == (48, 48, 3)


def test_celeba_layout(tmp_path, foolbox_cifar_pngs):
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    names, attr_rows, part_rows = [], [], []
    for i, p in enumerate(foolbox_cifar_pngs):
        name = f"{i + 1:06d}.jpg"
        Image.open(p).convert("RGB").resize((178, 218)).save(root / "img_align_celeba" / name)
        black, brown = (1, -1) if i % 3 == 0 else ((-1, 1) if i % 3 == 1 else (1, 1))
        attr_rows.append(f"{name} {black:2d} {brown:2d} -1")
        part_rows.append(f"{name} {0 if i < 14 else 2}")
    (root / "list_attr_celeba.txt").write_text("20\nBlack_Hair Brown_Hair Bald\n" + "\n".join(attr_rows) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(part_rows) + "\n")
    ds = load_dataset("celeba:Black_Hair,Brown_Hair", data_dir=tmp_path, n_train=6, n_test=None, size=24)
    assert ds.sample_shape == (24, 24, 3) and ds.class_names == ("Black_Hair", "Brown_Hair")
    assert np.bincount(ds.y_train).tolist() == [3, 3]       # rows with both attributes are left out
    assert len(ds.y_test) == 4                                # images 15..20 minus the two with both
