"""MTCNN face detection (P-, R-, O-Net in Flax; facenet-pytorch's pipeline on the host), with
its pretrained weights bundled (see ``weights/RECORD.md``)."""

from styleclip_jax.models.mtcnn.detect import Faces, detect_faces
from styleclip_jax.models.mtcnn.handle import (
    FaceDetector,
    MTCNNConfig,
    load_face_detector,
)
from styleclip_jax.models.mtcnn.network import MTCNNNets

__all__ = ["FaceDetector", "Faces", "MTCNNConfig", "MTCNNNets", "detect_faces", "load_face_detector"]
