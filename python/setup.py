"""Build the neardup extension against the installed libneardup.

How the C library is found: with pkg-config (`pkg-config --cflags --libs
neardup`), the way a C program finds it, so the module uses the same
libneardup.so.0 as everything else on the machine and nothing is compiled
twice. Install the library first (`cmake --install build [--prefix P]`); for a
prefix pkg-config does not search, set PKG_CONFIG_PATH=P/lib/pkgconfig. The
library's directory is recorded as the module's run path, so a private prefix
needs no LD_LIBRARY_PATH. The package version is the library's.
"""

import glob
import os
import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args):
    command = ["pkg-config", *args, "neardup"]
    try:
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        raise SystemExit("neardup: pkg-config is needed to find the C library (Debian: apt-get install pkg-config)")
    except subprocess.CalledProcessError as e:
        raise SystemExit(
            "neardup: pkg-config cannot find the C library libneardup (" + e.stderr.strip() + "). "
            "Install it first (cmake --install build [--prefix P]); for a prefix that pkg-config "
            "does not search, set PKG_CONFIG_PATH=P/lib/pkgconfig."
        )


libdir = os.path.normpath(pkg_config("--variable=libdir"))
setup(
    version=pkg_config("--modversion"),
    ext_modules=[
        Extension(
            "neardup._neardup",
            sources=["neardup/_neardup.c"] + sorted(glob.glob("neardup/ext_*.c")),
            depends=["neardup/ext.h"],
            extra_compile_args=shlex.split(pkg_config("--cflags")) + ["-fvisibility=hidden"],
            extra_link_args=shlex.split(pkg_config("--libs")),
            runtime_library_dirs=[libdir],
        )
    ],
)
