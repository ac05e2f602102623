"""trt_tracker: real-time 3D pose tracking with learned spatiotemporal joint relations."""
__version__ = "0.1.0"
