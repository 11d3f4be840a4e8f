"""MTCNN face detection (P-, R-, O-Net in Flax; facenet-pytorch's pipeline on the host), with
its pretrained weights bundled (see ``weights/RECORD.md``)."""

from .detect import Faces, detect_faces
from .handle import FaceDetector, MTCNNConfig, load_face_detector
from .network import MTCNNNets

__all__ = ["FaceDetector", "Faces", "MTCNNConfig", "MTCNNNets", "detect_faces", "load_face_detector"]
