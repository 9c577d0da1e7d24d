"""Package definition. Install the pinned torch stack first (see README):

    pip install -c constraints.txt -e ".[dev]"

The ranges below are deliberately compatible ranges, never pins: constraints.txt decides the
exact torch/torchvision pair, so an editable install never drags in another torch build.
"""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    with open(os.path.join(HERE, "hodor", "__init__.py")) as fh:
        return re.search(r'__version__ = "([^"]+)"', fh.read()).group(1)


setup(
    name="hodor",
    version=read_version(),
    description="HODOR: weakly-supervised video object segmentation from static images, in PyTorch",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["hodor", "hodor.*"]),
    include_package_data=True,
    package_data={"hodor": ["py.typed", "demo/static/*"]},
    install_requires=[
        "torch>=2.4,<3",
        "torchvision>=0.19",
        "timm>=1.0.9,<2",
        "numpy>=1.24",
        "pillow>=9",
        "opencv-python-headless>=4.8",
        "pycocotools>=2.0.7",
        "tensorboard>=2.14",
        "pyyaml>=6",
        "tqdm>=4.60",
        "safetensors>=0.4",
        "fvcore>=0.1.5.post20221221",
        "scipy>=1.10",
    ],
    extras_require={
        "dev": ["pytest>=7.4", "pytest-timeout>=2.2", "ruff>=0.6", "imageio-ffmpeg>=0.5"],
        # H.264 overlay videos (an ffmpeg build with libx264); without it: OpenCV mp4v
        "video": ["imageio-ffmpeg>=0.5"],
        # hodor-demo (browser demo); demo-test: what its tests add (in-process client, real browser)
        "demo": ["fastapi>=0.110", "uvicorn>=0.27", "python-multipart>=0.0.9"],
        "demo-test": ["httpx>=0.25", "selenium>=4.15"],
        # ONNX export (hodor-export) and the onnxruntime predictor backend; not needed otherwise.
        "export": ["onnx>=1.17", "onnxscript>=0.3", "onnxruntime>=1.20"],
    },
    entry_points={
        "console_scripts": [
            "hodor-train = hodor.cli.train:train_main",
            "hodor-eval-vos = hodor.cli.eval_vos:main",
            "hodor-pseudo-label = hodor.cli.pseudo_label:main",
            "hodor-self-train = hodor.cli.self_train:main",
            "hodor-infer-video = hodor.cli.infer_video:main",
            "hodor-synthetic = hodor.data.synthetic:cli",
            "hodor-recipe-report = hodor.training.recipe_report:main",
            "hodor-demo = hodor.demo.cli:main",
            "hodor-export = hodor.export.cli:main",
        ],
    },
)
