"""Interactive browser demo: upload a clip, paint or upload masks, propagate, correct, download.

``hodor-demo`` (``tools/demo.py``) serves a small static page and an HTTP API (``app.py``) on
127.0.0.1. Propagation is the streaming :class:`hodor.inference.predictor.VideoPredictor`, driven
exactly as ``tools/infer_video.py`` drives it, so the demo's masks equal that tool's. Needs the
optional extra: ``pip install hodor[demo]``.
"""
