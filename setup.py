"""Build the optional compiled kernel; nnrecipe falls back to pure NumPy when it is absent."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("nnrecipe.engine._fused", ["src/nnrecipe/engine/_fused.c"],
                             extra_compile_args=["-O3", "-fno-math-errno", "-ffp-contract=off"],
                             optional=True)])
