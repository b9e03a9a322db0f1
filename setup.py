"""Install vs-dvd: the ``vs_dvd`` package and, in VapourSynth's autoload folder, the native ``dvd`` plugin.

The plugin is a small C shim (``vs_dvd/shim.c``) that forwards ``core.dvd.*`` calls to Python. It is
compiled into ``<site-packages>/vapoursynth/plugins/dvd/`` next to a ``manifest.vs``, the layout
PyPI plugin wheels use, for both ``pip install .`` and ``pip install -e .``.
"""
import re
import sys
from pathlib import Path

from setuptools import Command, find_packages, setup
from setuptools.command.build import build
from setuptools.dist import Distribution

ROOT = Path(__file__).parent
VERSION = re.search(r'^__version__ = "(.+)"$', (ROOT / "vs_dvd" / "__init__.py").read_text(), re.M)[1]
PLUGIN_DIR = Path("vapoursynth", "plugins", "dvd")
PLUGIN_NAME = "libdvd"


class BuildPlugin(Command):
    """Compile the shim into ``vapoursynth/plugins/dvd/`` of the build (or editable) tree."""

    description = "build the native dvd VapourSynth plugin"
    user_options = []
    editable_mode = False  # set by setuptools' editable_wheel

    def initialize_options(self) -> None:
        self.build_lib = None
        self.build_temp = None
        self.outputs = []

    def finalize_options(self) -> None:
        self.set_undefined_options("build", ("build_lib", "build_lib"), ("build_temp", "build_temp"))

    def run(self) -> None:
        import vapoursynth
        from distutils.ccompiler import new_compiler  # setuptools' bundled distutils
        from distutils.sysconfig import customize_compiler

        # An editable wheel ships only files written to install_lib; VapourSynth needs a real file.
        root = self.get_finalized_command("install").install_lib if self.editable_mode else self.build_lib
        out = Path(root, PLUGIN_DIR)
        out.mkdir(parents=True, exist_ok=True)
        compiler = new_compiler()
        customize_compiler(compiler)
        major, minor = VERSION.split(".")[:2]
        objects = compiler.compile(
            [str(Path("vs_dvd", "shim.c"))], output_dir=self.build_temp,
            include_dirs=[vapoursynth.get_include()],
            macros=[("DVD_VERSION_MAJOR", major), ("DVD_VERSION_MINOR", minor)],
            extra_preargs=["-O2", "-fvisibility=hidden"],
        )
        library = out / (PLUGIN_NAME + (".dylib" if sys.platform == "darwin" else ".so"))
        compiler.link_shared_object(objects, str(library), libraries=["dl"])
        manifest = out / "manifest.vs"
        manifest.write_text(f"[VapourSynth Manifest V1]\n{PLUGIN_NAME}\n")
        self.outputs = [str(library), str(manifest)]

    def get_outputs(self) -> list[str]:
        return self.outputs


class BuildWithPlugin(build):
    sub_commands = build.sub_commands + [("build_plugin", None)]


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it is platform-specific."""

    def has_ext_modules(self) -> bool:
        return True


TRT = ["tensorrt-rtx-cu13-libs", "tensorrt-rtx-cu13-bindings", "onnx", "ml_dtypes", "filelock",
       "torch"]  # torch owns the engine's device memory and streams
CUDA = ["torch", "onnx"]
OV = ["openvino"]  # faster CPU inference, bf16 where the CPU has it
ALIGN = ["opencv-python-headless"]  # models trained on flow-aligned windows (sidecar "align")
FLEET = ["ray", "tqdm"]  # vs-dvd render: chunks on Ray workers across GPUs and machines
TRAIN = ["nncf>=3.4", "torch", "safetensors", "tqdm", "tensorboard", "scikit-image", "scikit-video", "av",
         "opencv-python-headless", "matplotlib", "onnx"]

setup(
    name="vs-dvd",
    version=VERSION,
    description="VapourSynth plugin: video deblurring with the DBN of Su et al. (CVPR 2017)",
    python_requires=">=3.12",
    packages=find_packages(include=["vs_dvd", "vs_dvd.*", "trt_build", "trt_build.*", "training", "training.*"]),
    package_data={"vs_dvd": ["data/*.onnx", "data/*.json"]},
    install_requires=["vapoursynth>=81", "numpy", "onnxruntime"],
    extras_require={
        "align": ALIGN,
        "fleet": FLEET,
        "cuda": CUDA,
        "ov": OV,
        "trt": TRT,
        "train": TRAIN,
        "test": sorted({"pytest", "pytest-timeout", "vapoursynth-mlrt-ort", *ALIGN, *FLEET, *CUDA, *OV, *TRT, *TRAIN}),
    },
    cmdclass={"build": BuildWithPlugin, "build_plugin": BuildPlugin},
    distclass=BinaryDistribution,
    zip_safe=False,
)
