"""The one door to the Kubernetes API: only this package imports the ``kubernetes`` client."""

from dr_lib.kube.client import Kube, ResourceType, Response

__all__ = ["Kube", "ResourceType", "Response"]
