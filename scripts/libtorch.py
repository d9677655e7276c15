#!/usr/bin/env python3
"""Find or install the libtorch that Pretext builds against; print its folder.

Order of preference:
  1. $LIBTORCH: a libtorch folder or an installed `torch` package (both hold lib/ and include/).
  2. The cache, ~/.cache/pretext/libtorch-<version> (or $PRETEXT_CACHE/libtorch-<version>).
  3. Otherwise the PyPI `torch` wheel is fetched with pip (a CPU-only `+cpu` build when pip's configured
     wheel sources serve one, the plain PyPI build otherwise) and its lib/ and include/ unpacked into
     the cache. The plain PyPI build is a CUDA build whose libtorch_cpu.so also needs libcudart and
     libcupti: those come from the NVIDIA runtime wheels that the torch wheel itself requires, and are
     placed beside libtorch's own libraries. With PRETEXT_CUDA=1 the CUDA build is fetched even where a
     +cpu one is offered, and every NVIDIA wheel it requires is unpacked, libraries and headers (what
     running on a GPU needs: cuBLAS, cuDNN, NCCL, ...; the headers let the shim build NCCL's process group).
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


def metadata_requirements(wheel):
    """A wheel's Requires-Dist lines as (spec, marker) pairs, spaces removed from the spec."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    pairs = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            spec, _, marker = line.split(":", 1)[1].strip().partition(";")
            pairs.append((spec.strip().replace(" ", ""), marker))
    return pairs


def requirements(wheel, wheels_dir, more_components=()):
    """The NVIDIA wheels a torch wheel requires on Linux, as pip specs: its nvidia-* requirements, and the
    components of a `cuda-toolkit[extra,...]==V` requirement (CUDA 13 wheels name the runtime so), read from
    that meta package's own metadata (`extra == 'cudart'` and so on), plus `more_components` of that toolkit."""
    specs = []
    for spec, marker in metadata_requirements(wheel):
        if "extra ==" in marker or 'platform_system == "Windows"' in marker:
            continue
        if spec.lower().startswith("nvidia-"):
            specs.append(spec)
        m = re.match(r"cuda-toolkit\[([^\]]*)\](.*)$", spec, re.I)
        if m:
            extras = {e.strip().lower() for e in m.group(1).split(",")} | set(more_components)
            meta = pip_download(f"cuda-toolkit{m.group(2)}", wheels_dir)
            if meta is None:
                raise SystemExit(f"pip could not download {spec}")
            for sub, sub_marker in metadata_requirements(meta):
                wanted = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", sub_marker)
                if wanted and wanted.group(1).lower() in extras and "linux" in sub_marker and sub not in specs:
                    specs.append(sub)
    return specs


def unpack(wheel, prefix, dest, skip=None):
    """Extract members of `wheel` under `prefix` into `dest`, stripping the prefix (those whose name `skip`
    matches left out); refuses escaping paths."""
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            if skip and re.search(skip, info.filename):
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
        wheel = None
        if os.environ.get("PRETEXT_CUDA") != "1":
            log(f"fetching torch=={TORCH_VERSION}+cpu with pip")
            wheel = pip_download(f"torch=={TORCH_VERSION}+cpu", wheels)
        cuda_build = wheel is None
        if cuda_build:
            log(f"fetching torch=={TORCH_VERSION} (PyPI's CUDA build) with pip")
            # `===`: exactly this version, never a local build such as +cpu that pip's wheel sources may offer.
            wheel = pip_download(f"torch==={TORCH_VERSION}", wheels)
        if wheel is None:
            raise SystemExit(f"pip could not download torch=={TORCH_VERSION}; set LIBTORCH=/path/to/libtorch")
        log(f"unpacking {os.path.basename(wheel)}")
        # The CUDA build used on a CPU (no PRETEXT_CUDA): its GPU libraries are left out, so Package.swift builds
        # for the CPU (libtorch_cuda.so needs cuBLAS, cuDNN, NCCL, ... that are then not unpacked).
        gpu_only = None if os.environ.get("PRETEXT_CUDA") == "1" else r"/lib(torch_cuda[^/]*|c10_cuda|torch_nvshmem|caffe2_nvrtc)\.so$"
        unpack(wheel, "torch/lib/", os.path.join(staged, "lib"), skip=gpu_only)
        unpack(wheel, "torch/include/", os.path.join(staged, "include"))
        if cuda_build:
            # crt, cccl: headers that cuda_runtime.h and cuda_fp16.h include (crt/host_config.h, nv/target), needed to compile against CUDA's
            # headers (the NCCL process group), not to run.
            wanted = requirements(wheel, wheels, more_components=("crt", "cccl") if os.environ.get("PRETEXT_CUDA") == "1" else ())
            if os.environ.get("PRETEXT_CUDA") != "1":
                wanted = [s for s in wanted if re.match(r"nvidia-cuda-(runtime|cupti)", s, re.I)]
            for spec in wanted:
                log(f"fetching {spec}")
                nv = pip_download(spec, wheels)
                if nv is None:
                    raise SystemExit(f"pip could not download {spec}")
                with zipfile.ZipFile(nv) as z:
                    names = z.namelist()
                libdirs = {n.rsplit("/", 1)[0] + "/" for n in names if re.search(r"/lib/[^/]+\.so[.0-9]*$", n)}
                for libdir in libdirs:
                    unpack(nv, libdir, os.path.join(staged, "lib"))
                # Their headers too: the shim's NCCL process group includes c10d's ProcessGroupNCCL.hpp, which
                # needs nccl.h and the CUDA runtime's and libraries' headers (ATen/cuda/CUDAContext.h).
                incdirs = {n[: n.index("/include/") + len("/include/")] for n in names
                           if "/include/" in n and n.startswith("nvidia/")}
                for incdir in incdirs:
                    unpack(nv, incdir, os.path.join(staged, "include"))
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
    want_cuda = os.environ.get("PRETEXT_CUDA") == "1"
    if want_cuda and is_libtorch(dest) and not os.path.isfile(os.path.join(dest, "lib", "libtorch_cuda.so")):
        log(f"PRETEXT_CUDA=1: replacing the CPU libtorch in {dest} with the CUDA build")
    if not is_libtorch(dest) or (want_cuda and not os.path.isfile(os.path.join(dest, "lib", "libtorch_cuda.so"))):
        if os.path.exists(dest):
            shutil.rmtree(dest)
        install(dest)
        log(f"libtorch ready in {dest}")
    print(dest)


if __name__ == "__main__":
    main()
