"""Packaging for prodkit: everything is read from settings.ini (the nbdev configuration)."""
from configparser import ConfigParser
from pathlib import Path
from setuptools import find_packages, setup

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).parent / "settings.ini", encoding="utf-8")
c = cfg["DEFAULT"]

setup(
    name=c["lib_name"],
    version=c["version"],
    description=c["description"],
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author=c["author"],
    author_email=c["author_email"],
    license="Apache-2.0",
    keywords=c["keywords"].split(),
    python_requires=f">={c['min_python']}",
    # templates/ lives at the top of the repository and ships inside the package as prodkit/templates
    packages=find_packages(include=["prodkit", "prodkit.*"]) + ["prodkit.templates"],
    package_dir={"prodkit.templates": "templates"},
    package_data={"prodkit.templates": ["*.ipynb"]},
    install_requires=c["requirements"].split(),
    # bench: the anchors benchmarks/ compares against; Evidently needs pandas<3, so it lives in a venv of its own
    extras_require={"dev": c["dev_requirements"].split(), "bench": c["bench_requirements"].split()},
    entry_points={"console_scripts": c["console_scripts"].split()},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "Intended Audience :: Science/Research",
        "License :: OSI Approved :: Apache Software License",
    ],
    zip_safe=False,
)
