"""Declares the optional native frame decoder; everything else is in pyproject.toml.

``optional=True``: where no C compiler is present the package still installs, and
``schemahub.decode.native`` falls back to the msgspec path (a test checks that CI built it).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "schemahub.decode._native",
            ["service/schemahub/decode/_native.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
