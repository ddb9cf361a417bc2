"""Declares the optional native extensions; everything else is in pyproject.toml.

``optional=True``: where no C compiler is present the package still installs, and
``schemahub.decode.native`` falls back to the msgspec path (a test checks that CI built it),
``schemahub.mapping.isoparse`` to the Arrow path of the ``iso8601`` transform.
"""

from setuptools import Extension, setup

_COMPILE_ARGS = ["-O3", "-std=c99", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension(
            "schemahub.decode._native",
            ["service/schemahub/decode/_native.c"],
            optional=True,
            extra_compile_args=_COMPILE_ARGS,
        ),
        Extension(
            "schemahub.mapping._iso",
            ["service/schemahub/mapping/_iso.c"],
            optional=True,
            extra_compile_args=_COMPILE_ARGS,
        ),
    ]
)
