#!/usr/bin/env python3
"""Find or install the libtorch that Pretext builds against; print its folder.

Order of preference:
  1. $LIBTORCH: a libtorch folder or an installed `torch` package (both hold lib/ and include/).
  2. The cache, ~/.cache/pretext/libtorch-<version> (or $PRETEXT_CACHE/libtorch-<version>).
  3. Otherwise the PyPI `torch` wheel is fetched with pip (a CPU-only `+cpu` build when pip's configured
     wheel sources serve one, the plain PyPI build otherwise) and its lib/ and include/ unpacked into
     the cache. The plain PyPI build is a CUDA build whose libtorch_cpu.so also needs libcudart and
     libcupti: those come from the NVIDIA runtime wheels that the torch wheel itself requires, and are
     placed beside libtorch's own libraries. With PRETEXT_CUDA=1 every NVIDIA wheel it requires is
     unpacked (what running on a GPU needs: cuBLAS, cuDNN, NCCL, ...).
The unpacking is atomic: a half-unpacked folder is never mistaken for a whole one.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

TORCH_VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch-version")).read().strip()


def log(msg):
    print(f"[pretext setup] {msg}", file=sys.stderr, flush=True)


def cache_root():
    # $PRETEXT_CACHE, else $HOME/.cache/pretext: the rule of Package.swift and Torch's CacheRoot.
    root = os.environ.get("PRETEXT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "pretext")
    os.makedirs(root, exist_ok=True)
    return root


def is_libtorch(path):
    return (os.path.isfile(os.path.join(path, "lib", "libtorch_cpu.so"))
            and os.path.isfile(os.path.join(path, "include", "ATen", "ATen.h")))


def pip_download(spec, dest):
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", dest, spec]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        return None
    wheels = [f for f in os.listdir(dest) if f.endswith(".whl")]
    name = re.sub(r"[-_.]+", "_", spec.split("=")[0].split(">")[0].split("<")[0].strip()).lower()
    for w in wheels:
        if w.lower().startswith(name + "-"):
            return os.path.join(dest, w)
    return None


def requirements(wheel):
    """The NVIDIA wheels a torch wheel requires, as pip specs (markers evaluated for Linux x86_64/aarch64)."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    specs = []
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = line.split(":", 1)[1].strip()
        spec, _, marker = req.partition(";")
        if "extra ==" in marker or "platform_system == \"Windows\"" in marker:
            continue
        if spec.strip().lower().startswith("nvidia-"):
            specs.append(spec.strip().replace(" ", ""))
    return specs


def unpack(wheel, prefix, dest):
    """Extract members of `wheel` under `prefix` into `dest`, stripping the prefix; refuses escaping paths."""
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix):]
            target = os.path.normpath(os.path.join(dest, rel))
            if not target.startswith(os.path.abspath(dest) + os.sep):
                raise SystemExit(f"refusing wheel member outside the target: {info.filename}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)


def install(dest):
    work = tempfile.mkdtemp(prefix="libtorch-", dir=cache_root())
    try:
        wheels = os.path.join(work, "wheels")
        os.makedirs(wheels)
        staged = os.path.join(work, "libtorch")
        log(f"fetching torch=={TORCH_VERSION}+cpu with pip")
        wheel = pip_download(f"torch=={TORCH_VERSION}+cpu", wheels)
        cuda_build = wheel is None
        if cuda_build:
            log(f"no +cpu wheel offered; fetching torch=={TORCH_VERSION} (CUDA build) from PyPI")
            wheel = pip_download(f"torch=={TORCH_VERSION}", wheels)
        if wheel is None:
            raise SystemExit(f"pip could not download torch=={TORCH_VERSION}; set LIBTORCH=/path/to/libtorch")
        log(f"unpacking {os.path.basename(wheel)}")
        unpack(wheel, "torch/lib/", os.path.join(staged, "lib"))
        unpack(wheel, "torch/include/", os.path.join(staged, "include"))
        if cuda_build:
            wanted = requirements(wheel)
            if os.environ.get("PRETEXT_CUDA") != "1":
                wanted = [s for s in wanted if re.match(r"nvidia-cuda-(runtime|cupti)", s, re.I)]
            for spec in wanted:
                log(f"fetching {spec}")
                nv = pip_download(spec, wheels)
                if nv is None:
                    raise SystemExit(f"pip could not download {spec}")
                with zipfile.ZipFile(nv) as z:
                    libdirs = {n.rsplit("/", 1)[0] + "/" for n in z.namelist()
                               if re.search(r"/lib/[^/]+\.so[.0-9]*$", n)}
                for libdir in libdirs:
                    unpack(nv, libdir, os.path.join(staged, "lib"))
        with open(os.path.join(staged, "VERSION"), "w") as f:
            f.write(os.path.basename(wheel) + "\n")
        if not is_libtorch(staged):
            raise SystemExit("the torch wheel did not hold lib/libtorch_cpu.so and include/ATen/ATen.h")
        os.rename(staged, dest)  # atomic: dest appears whole or not at all
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    override = os.environ.get("LIBTORCH")
    if override:
        path = os.path.abspath(os.path.expanduser(override))
        if not is_libtorch(path):
            raise SystemExit(f"LIBTORCH={override} holds no lib/libtorch_cpu.so and include/ATen/ATen.h")
        print(path)
        return
    dest = os.path.join(cache_root(), f"libtorch-{TORCH_VERSION}")
    if not is_libtorch(dest):
        if os.path.exists(dest):
            shutil.rmtree(dest)
        install(dest)
        log(f"libtorch ready in {dest}")
    print(dest)


if __name__ == "__main__":
    main()
