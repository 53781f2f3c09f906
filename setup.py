"""Maps the top-level folders to import names that do not shadow PyPI packages.

python_backend/ -> ltx_backend, kernels/ -> ltx_kernels, client/ -> ltx_client. Every sub-package
(any folder with an __init__.py) is found here, so new modules need no edit of this file.
"""
from pathlib import Path

from setuptools import setup

FOLDERS = {"ltx_backend": "python_backend", "ltx_kernels": "kernels", "ltx_client": "client"}


def discover() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = [], {}
    for name, folder in FOLDERS.items():
        package_dir[name] = folder
        for init in sorted(Path(folder).rglob("__init__.py")):
            rel = init.parent.relative_to(folder).parts
            packages.append(".".join((name, *rel)))
    return packages, package_dir


packages, package_dir = discover()
setup(packages=packages, package_dir=package_dir)
