"""Build the native ``dvd`` plugin into the wheel; everything else about the package is in pyproject.toml.

The plugin is a small C shim (``vs_dvd/shim.c``) that forwards ``core.dvd.*`` calls to Python. It is
compiled into ``<site-packages>/vapoursynth/plugins/dvd/`` next to a ``manifest.vs``, the layout
PyPI plugin wheels use, for both ``pip install .`` and ``pip install -e .``.
"""
import os
import re
import sys
from pathlib import Path

from setuptools import Command, find_packages, setup
from setuptools.command.bdist_wheel import bdist_wheel
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
        # libdl stays a dependency (--no-as-needed): before glibc 2.34 the dlsym that shim.c binds lives there
        compiler.link_shared_object(objects, str(library), libraries=["dl"], extra_preargs=["-Wl,--no-as-needed"])
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


class PluginWheel(bdist_wheel):
    """``py3-none-<platform>``: the shim calls no Python API at link time (it finds CPython's functions in
    the running process) and links only libc and libdl with symbol versions of glibc 2.2.5 (see shim.c),
    so one wheel serves every Python 3 and, on Linux, every manylinux_2_28 system."""

    def get_tag(self) -> tuple[str, str, str]:
        platform = super().get_tag()[2]
        if sys.platform == "linux":
            platform = f"manylinux_2_28_{os.uname().machine}"
        return "py3", "none", platform


setup(
    # The engine builder lives at the top of the repository (its own program) but installs as
    # vs_dvd.trt_build: no generic top-level name that a user's own package could shadow or be shadowed by.
    # training/, tests/, demo/ and bench/ are a checkout's tools and stay out of the wheel.
    packages=[*find_packages(include=["vs_dvd", "vs_dvd.*"]), "vs_dvd.trt_build"],
    package_dir={"vs_dvd.trt_build": "trt_build"},
    cmdclass={"build": BuildWithPlugin, "build_plugin": BuildPlugin, "bdist_wheel": PluginWheel},
    distclass=BinaryDistribution,
    zip_safe=False,
)
