"""kube6: from IPv6-only servers to a secure IPv6 single-stack Kubernetes cluster."""

__version__ = "0.1.0"

__all__ = ["__version__"]
