"""Binary image pairs: Fashion-MNIST, CIFAR-10, CelebA, GTSRB, ImageNet.

Every loader returns a `Dataset` with float32 pixels in [0, 1], flattened in HWC order, labels 0/1
(0 for the first class named), and caches the prepared arrays (see `pipelines._paths`).
"""
from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np

from . import _paths
from ._dataset import Dataset, binary_labels, cached_dataset, parse_index_pair, parse_pair

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# Official md5 sums of the files inside cifar-10-python.tar.gz (the ones torchvision checks too).
CIFAR10_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR10_HF = "uoft-cs/cifar10"
GTSRB_N_CLASSES = 43

IMAGENET_HELP = ("ImageNet cannot be downloaded automatically: get ILSVRC2012 from https://image-net.org, "
                 "then lay it out as <dir>/train/<wnid>/*.JPEG and <dir>/val/<wnid>/*.JPEG "
                 "(class index = position of the wnid in sorted order).")


def _provenance(source: str, files: list[Path], **extra) -> dict:
    return {"source": source, "files": {str(f): _paths.file_md5(f) for f in files}, **extra}


# ----------------------------------------------------------------------------------------------- Fashion-MNIST
def read_idx(path: str | os.PathLike, *, shape: tuple | None = None) -> np.ndarray:
    """Read an IDX file (gzip or raw) as used by MNIST and Fashion-MNIST: big-endian dims, unsigned bytes.

    `shape` (None entries match any size) is what the caller expects, e.g. (None, 28, 28) for images.
    Every defect (not gzip, truncated, wrong magic, header and payload disagreeing, wrong shape) is a
    ValueError naming the file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with _paths.reading(path), opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic bytes {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: IDX header truncated ({len(raw)} bytes for {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} ({int(np.prod(dims))} values) but the file holds "
                         f"{data.size} (truncated or not an IDX file)")
    if shape is not None and (len(dims) != len(shape) or any(s is not None and s != d for s, d in zip(shape, dims))):
        want = ", ".join("n" if s is None else str(s) for s in shape)
        raise ValueError(f"{path}: IDX array of shape {dims}, expected ({want})")
    return data.reshape(dims)


def read_idx_pair(images: str | os.PathLike, labels: str | os.PathLike, *, image_shape=(28, 28),
                  n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, *image_shape) and labels (n,) of one split, checked against each other: same count,
    labels within 0..n_classes-1."""
    x = read_idx(images, shape=(None, *image_shape))
    y = read_idx(labels, shape=(None,))
    if len(x) != len(y):
        raise ValueError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels")
    if y.size and y.max() >= n_classes:
        raise ValueError(f"{labels} holds label {int(y.max())}; expected 0..{n_classes - 1}")
    return x, y


def _fashion_mnist_dir(data_dir) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    home = _paths.data_home() / "fashion-mnist"
    if all((home / f).is_file() for f in FASHION_MNIST_FILES) or not DEBIAN_FASHION_MNIST.is_dir():
        return home
    return DEBIAN_FASHION_MNIST


def load_fashion_mnist(data_dir=None, *, classes=(2, 4), cache: bool = True, cache_dir=None) -> Dataset:
    """Fashion-MNIST, two classes (default Pullover vs Coat): 12000 train / 2000 test, shape (28, 28, 1).

    Files are the four official IDX .gz files in `data_dir`, else <data_home>/fashion-mnist, else
    /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
    """
    a, b = parse_pair(classes, FASHION_MNIST_CLASSES)
    root = _fashion_mnist_dir(data_dir)
    files = [root / f for f in FASHION_MNIST_FILES]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(
                f"Fashion-MNIST file {f.name} expected at {f}. Install the Debian package "
                f"(apt-get install dataset-fashion-mnist, files land in {DEBIAN_FASHION_MNIST}) or download "
                f"{FASHION_MNIST_URL}{f.name} into {root} (or pass data_dir=).")
    params = {"classes": [a, b], "files": {f.name: _paths.file_md5(f) for f in files}}

    def build() -> Dataset:
        xs = {}
        for split, (img, lab) in {"train": files[:2], "test": files[2:]}.items():
            x, y = read_idx_pair(img, lab, image_shape=(28, 28), n_classes=len(FASHION_MNIST_CLASSES))
            keep, y01 = binary_labels(y, (a, b))
            xs[split] = (x[keep].reshape(-1, 28 * 28).astype(np.float32) / 255.0, y01)
        return Dataset(name=f"fmnist:{a},{b}", x_train=xs["train"][0], y_train=xs["train"][1],
                       x_test=xs["test"][0], y_test=xs["test"][1], sample_shape=(28, 28, 1),
                       clip_values=(0.0, 1.0), class_names=(FASHION_MNIST_CLASSES[a], FASHION_MNIST_CLASSES[b]),
                       provenance=_provenance("fashion-mnist idx", files, classes=[a, b]))

    return cached_dataset(f"fmnist-{a}-{b}", params, build, cache=cache, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------------------- CIFAR-10
class RefusedPickle(pickle.UnpicklingError, ValueError):
    """A CIFAR batch that is damaged or refers to code: an UnpicklingError that is also a ValueError."""


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR-10 batches: allows only what a dict of numpy arrays and lists needs."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise RefusedPickle(f"CIFAR batch refers to {module}.{name}; refusing to load it")
        return super().find_class(module, name)


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One batch of the official python version: returns uint8 images (n, 32, 32, 3) HWC and int labels.

    The file is a pickled dict whose b"data" rows hold 1024 red, then 1024 green, then 1024 blue bytes
    (row-major 32x32 planes); only numpy arrays and plain containers are allowed while unpickling.
    """
    with open(path, "rb") as f:
        try:
            entry = _ArrayUnpickler(f, encoding="bytes").load()
        except RefusedPickle as err:
            raise RefusedPickle(f"{path}: {err}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
                KeyError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not a readable CIFAR-10 python batch (damaged or truncated: "
                             f"{type(err).__name__}: {err})") from None
    if not isinstance(entry, dict):
        raise ValueError(f"{path} is not a CIFAR-10 python batch (a pickled {type(entry).__name__}, not a dict)")
    entry = {(k.decode() if isinstance(k, bytes) else k): v for k, v in entry.items()}
    if "data" not in entry or not ("labels" in entry or "fine_labels" in entry):
        raise ValueError(f"{path} is not a CIFAR-10 python batch (keys {sorted(entry)})")
    data = np.asarray(entry["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: data has shape {data.shape}, expected (n, 3072)")
    labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _cifar_local(root: Path, verify: bool, download: bool):
    files = [root / n for n in CIFAR10_MD5]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(
                f"CIFAR-10 batch {f.name} expected at {f}. Download {CIFAR10_URL} and extract it so that "
                f"{root} holds data_batch_1..5 and test_batch (e.g. `tar -xzf cifar-10-python.tar.gz -C "
                f"{root.parent}`)" + ("." if download else f", or pass download=True to fetch it through "
                                                          f"Hugging Face datasets ({CIFAR10_HF}) or torchvision."))
    if verify:
        for f in files:
            got = _paths.file_md5(f)
            if got != CIFAR10_MD5[f.name]:
                raise ValueError(f"{f} has md5 {got}, the official file has {CIFAR10_MD5[f.name]}; "
                                 f"re-download {CIFAR10_URL} (or pass verify=False for a file you made yourself)")
    parts = [read_cifar_batch(f) for f in files[:5]]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = read_cifar_batch(files[5])
    return (x_tr, y_tr, x_te, y_te), _provenance("cifar-10-batches-py", files, verified=verify)


def _cifar_hf(root: Path):
    import datasets  # optional, online

    out = []
    for split in ("train", "test"):
        ds = datasets.load_dataset(CIFAR10_HF, split=split, cache_dir=str(root / "hf"))
        img_col = "img" if "img" in ds.column_names else "image"
        out += [np.stack([np.asarray(im.convert("RGB")) for im in ds[img_col]]), np.asarray(ds["label"])]
    return tuple(out), {"source": f"huggingface:{CIFAR10_HF}"}


def _cifar_torchvision(root: Path):
    import torchvision  # optional; never a dependency

    out = []
    for train in (True, False):
        ds = torchvision.datasets.CIFAR10(str(root), train=train, download=True)
        out += [np.asarray(ds.data), np.asarray(ds.targets)]
    return tuple(out), {"source": "torchvision.datasets.CIFAR10", "url": CIFAR10_URL}


def load_cifar10(data_dir=None, *, classes=(0, 1), verify: bool = True, download: bool = True,
                 cache: bool = True, cache_dir=None) -> Dataset:
    """CIFAR-10, two classes (default airplane vs automobile: 10000 train / 2000 test), shape (32, 32, 3).

    Sources in order: `<data_dir>/cifar-10-batches-py` (or `data_dir` itself when it holds the batches),
    default data_dir <data_home>/cifar10, md5-checked against the official list; then, with download=True,
    Hugging Face `uoft-cs/cifar10` (skipped when HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set or the Hub is
    unreachable), then
    torchvision's CIFAR10(download=True) when torchvision imports.
    """
    a, b = parse_pair(classes, CIFAR10_CLASSES)
    base = Path(data_dir).expanduser() if data_dir is not None else _paths.data_home() / "cifar10"
    root = base if (base / "test_batch").is_file() else base / "cifar-10-batches-py"
    local = (root / "test_batch").is_file()
    params = {"classes": [a, b], "root": str(root.resolve()) if local else None, "verify": verify,
              "stamp": [_paths.file_md5(root / "test_batch")] if local else None}

    def build() -> Dataset:
        errors = []
        got = None
        try:
            got = _cifar_local(root, verify, download)
        except FileNotFoundError as e:
            if not download:
                raise
            errors.append(str(e))
        if got is None and not _paths.hf_reachable():
            errors.append(f"Hugging Face {CIFAR10_HF}: skipped (offline or huggingface.co unreachable)")
        elif got is None:
            try:
                got = _cifar_hf(base)
            except Exception as e:  # noqa: BLE001 - any failure means: try the next source
                errors.append(f"Hugging Face {CIFAR10_HF}: {type(e).__name__}: {e}")
        if got is None:
            try:
                got = _cifar_torchvision(base)
            except Exception as e:  # noqa: BLE001
                errors.append(f"torchvision: {type(e).__name__}: {e}")
        if got is None:
            raise FileNotFoundError("no CIFAR-10 source worked:\n  " + "\n  ".join(errors))
        (x_tr, y_tr, x_te, y_te), prov = got
        arrays = []
        for x, y in ((x_tr, y_tr), (x_te, y_te)):
            keep, y01 = binary_labels(np.asarray(y), (a, b))
            arrays += [x[keep].reshape(int(keep.sum()), -1).astype(np.float32) / 255.0, y01]
        return Dataset(f"cifar10:{a},{b}", *arrays, sample_shape=(32, 32, 3), clip_values=(0.0, 1.0),
                       class_names=(CIFAR10_CLASSES[a], CIFAR10_CLASSES[b]), provenance=dict(prov, classes=[a, b]))

    if not local:  # nothing local to key a cache on: only cache what a download produced
        params["stamp"] = "download"
    return cached_dataset(f"cifar10-{a}-{b}", params, build, cache=cache, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------------------- helpers for folders
def load_images(paths, size: int, *, center_crop: bool = False, desc: str = "images") -> np.ndarray:
    """Open image files with Pillow, optionally center-crop to a square, resize to size x size, RGB uint8."""
    from PIL import Image
    from tqdm.auto import tqdm

    paths = list(paths)
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(tqdm(paths, desc=desc, disable=len(paths) < 500)):
        with Image.open(p) as im:
            im = im.convert("RGB")
            if center_crop:
                w, h = im.size
                s = min(w, h)
                im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            out[i] = np.asarray(im.resize((size, size), Image.Resampling.BILINEAR))
    return out


def _image_dataset(name, x_tr, y_tr, x_te, y_te, size, class_names, prov) -> Dataset:
    flat = lambda x: x.reshape(len(x), -1).astype(np.float32) / 255.0  # noqa: E731
    return Dataset(name, flat(x_tr), np.asarray(y_tr), flat(x_te), np.asarray(y_te), sample_shape=(size, size, 3),
                   clip_values=(0.0, 1.0), class_names=class_names, provenance=prov)


def _first_balanced(labels: np.ndarray, n: int | None) -> np.ndarray:
    """Indices of the first n//2 rows of each of the two classes, in file order (all rows when n is None)."""
    if n is None:
        return np.arange(len(labels))
    idx = [np.flatnonzero(labels == c)[: n // 2] for c in (0, 1)]
    return np.sort(np.concatenate(idx))


# ----------------------------------------------------------------------------------------------- CelebA
def load_celeba(data_dir=None, *, attributes=("Black_Hair", "Brown_Hair"), n_train: int | None = 1000,
                n_test: int | None = 1000, size: int = 96, download: bool = False, cache: bool = True,
                cache_dir=None) -> Dataset:
    """CelebA, faces with exactly one of two attributes (default black vs brown hair), center-cropped, size x size.

    Layout (torchvision's): <data_dir>/celeba/{img_align_celeba/*.jpg, list_attr_celeba.txt,
    list_eval_partition.txt}. Train rows come from partition 0, test rows from partition 2; the first
    n/2 of each class in file order. download=True uses torchvision.datasets.CelebA (Google Drive).
    """
    import pandas as pd

    base = Path(data_dir).expanduser() if data_dir is not None else _paths.data_home()
    root = base if (base / "list_attr_celeba.txt").is_file() else base / "celeba"
    need = [root / "list_attr_celeba.txt", root / "list_eval_partition.txt", root / "img_align_celeba"]
    if download and not all(p.exists() for p in need):
        import torchvision

        torchvision.datasets.CelebA(str(base), split="all", target_type="attr", download=True)
    for p in need:
        if not p.exists():
            raise FileNotFoundError(
                f"CelebA file {p.name} expected at {p}. Get img_align_celeba.zip, list_attr_celeba.txt and "
                f"list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html into {root} "
                f"(unzip the images there), or pass download=True with torchvision installed.")
    a0, a1 = attributes
    params = {"attributes": [a0, a1], "n": [n_train, n_test], "size": size, "root": str(root.resolve()),
              "stamp": [_paths.file_md5(need[0]), _paths.file_md5(need[1])]}

    def build() -> Dataset:
        attr = pd.read_csv(need[0], sep=r"\s+", skiprows=1)
        part = pd.read_csv(need[1], sep=r"\s+", header=None, index_col=0).iloc[:, 0]
        for a in (a0, a1):
            if a not in attr.columns:
                raise ValueError(f"unknown CelebA attribute {a!r}; known: {list(attr.columns)}")
        one = (attr[a0] == 1) ^ (attr[a1] == 1)
        out = []
        for split, n in ((0, n_train), (2, n_test)):
            rows = attr[one & (part.reindex(attr.index) == split).to_numpy()]
            y = (rows[a1] == 1).to_numpy().astype(np.int64)
            pick = _first_balanced(y, n)
            files = [need[2] / f for f in rows.index[pick]]
            out += [load_images(files, size, center_crop=True, desc="CelebA"), y[pick]]
        return _image_dataset(f"celeba:{a0},{a1}", *out, size, (a0, a1),
                              _provenance("celeba", need[:2], attributes=[a0, a1], partitions={"train": 0, "test": 2}))

    return cached_dataset(f"celeba-{a0}-{a1}", params, build, cache=cache, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------------------- GTSRB
def _gtsrb_train_dir(root: Path, cls: int) -> Path | None:
    name = f"{cls:05d}"
    for cand in (root / "GTSRB" / "Final_Training" / "Images" / name, root / "GTSRB" / "Training" / name,
                 root / "gtsrb" / "GTSRB" / "Training" / name, root / "Final_Training" / "Images" / name,
                 root / "Training" / name):
        if cand.is_dir():
            return cand
    return None


def load_gtsrb(data_dir=None, *, classes=(3, 8), size: int = 48, download: bool = False, cache: bool = True,
               cache_dir=None) -> Dataset:
    """GTSRB, two classes (default speed limit 60 = 3 vs 120 = 8), whole image resized to size x size.

    Layouts: the official archives extracted in <data_dir> (GTSRB/Final_Training/Images/000NN/*.ppm;
    GTSRB/Final_Test/Images/*.ppm with GT-final_test.csv anywhere below <data_dir>), or torchvision's
    (gtsrb/GTSRB/Training, gtsrb/GT-final_test.csv). download=True uses torchvision.datasets.GTSRB.
    """
    import pandas as pd

    a, b = parse_index_pair(classes, GTSRB_N_CLASSES, "gtsrb")
    root = Path(data_dir).expanduser() if data_dir is not None else _paths.data_home() / "gtsrb"
    if download and (_gtsrb_train_dir(root, a) is None or not any(root.rglob("GT-final_test.csv"))):
        import torchvision

        for split in ("train", "test"):
            torchvision.datasets.GTSRB(str(root), split=split, download=True)
    dirs = [_gtsrb_train_dir(root, c) for c in (a, b)]
    for c, d in zip((a, b), dirs):
        if d is None:
            raise FileNotFoundError(
                f"GTSRB training images of class {c} expected in {root}/GTSRB/Final_Training/Images/{c:05d}/. "
                f"Download GTSRB_Final_Training_Images.zip from https://benchmark.ini.rub.de/gtsrb_dataset.html "
                f"and unzip it in {root}, or pass download=True with torchvision installed.")
    gt = next(iter(sorted(root.rglob("GT-final_test.csv"))), None)
    if gt is None:
        raise FileNotFoundError(
            f"GTSRB test labels GT-final_test.csv expected below {root}. Download GTSRB_Final_Test_Images.zip and "
            f"GTSRB_Final_Test_GT.zip from https://benchmark.ini.rub.de/gtsrb_dataset.html and unzip both in {root}.")
    params = {"classes": [a, b], "size": size, "root": str(root.resolve()), "stamp": _paths.file_md5(gt)}

    def build() -> Dataset:
        tr_files, tr_y = [], []
        for y, d in enumerate(dirs):
            files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".ppm", ".png", ".jpg"))
            tr_files += files
            tr_y += [y] * len(files)
        table = pd.read_csv(gt, sep=";")
        table = table[table["ClassId"].isin([a, b])]
        test_dir = next((p.parent for p in root.rglob(table["Filename"].iloc[0])), None) if len(table) else None
        if test_dir is None:
            raise FileNotFoundError(f"GTSRB test images listed in {gt} were not found below {root}; unzip "
                                    f"GTSRB_Final_Test_Images.zip there.")
        te_files = [test_dir / f for f in table["Filename"]]
        te_y = (table["ClassId"].to_numpy() == b).astype(np.int64)
        x_tr = load_images(tr_files, size, desc="GTSRB train")
        x_te = load_images(te_files, size, desc="GTSRB test")
        return _image_dataset(f"gtsrb:{a},{b}", x_tr, np.array(tr_y), x_te, te_y, size,
                              (f"class {a}", f"class {b}"), _provenance("gtsrb", [gt], classes=[a, b],
                                                                         train_dirs=[str(d) for d in dirs]))

    return cached_dataset(f"gtsrb-{a}-{b}", params, build, cache=cache, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------------------- ImageNet
def load_imagenet(data_dir=None, *, classes=(0, 1), size: int = 256, n_train: int | None = None,
                  n_test: int | None = None, cache: bool = True, cache_dir=None) -> Dataset:
    """ImageNet (ILSVRC2012), two classes by index or wnid (default 0 tench vs 1 goldfish), resized to size x size.

    Layout: <data_dir>/train/<wnid>/*.JPEG and <data_dir>/val/<wnid>/*.JPEG; the class index is the
    position of the wnid among the sorted train folders (the standard index order).
    """
    root = Path(data_dir).expanduser() if data_dir is not None else _paths.data_home() / "imagenet"
    train = root / "train"
    if not train.is_dir():
        raise FileNotFoundError(f"ImageNet train folder expected at {train}. {IMAGENET_HELP}")
    wnids = tuple(sorted(p.name for p in train.iterdir() if p.is_dir()))
    if len(wnids) < 2:
        raise FileNotFoundError(f"ImageNet train folder {train} holds {len(wnids)} class folders. {IMAGENET_HELP}")
    a, b = parse_index_pair(classes, len(wnids), "imagenet", names=wnids)
    pair = (wnids[a], wnids[b])
    for split in ("train", "val"):
        for w in pair:
            if not (root / split / w).is_dir():
                raise FileNotFoundError(f"ImageNet folder expected at {root / split / w}. {IMAGENET_HELP}")
    params = {"classes": [a, b], "wnids": list(pair), "size": size, "n": [n_train, n_test],
              "root": str(root.resolve()),
              "count": [len(list((root / s / w).iterdir())) for s in ("train", "val") for w in pair]}

    def build() -> Dataset:
        out = []
        for split, n in (("train", n_train), ("val", n_test)):
            files, ys = [], []
            for y, w in enumerate(pair):
                fs = sorted(p for p in (root / split / w).iterdir() if p.is_file())
                files += fs
                ys += [y] * len(fs)
            ys = np.array(ys)
            pick = _first_balanced(ys, n)
            out += [load_images([files[i] for i in pick], size, desc=f"ImageNet {split}"), ys[pick]]
        return _image_dataset(f"imagenet:{a},{b}", *out, size, pair,
                              {"source": "imagenet folders", "root": str(root), "wnids": list(pair)})

    return cached_dataset(f"imagenet-{a}-{b}", params, build, cache=cache, cache_dir=cache_dir)
