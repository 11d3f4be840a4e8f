"""ArcFace IR-SE50 identity network and StyleCLIP's ID loss."""

from .api import IDNet, load_idnet
from .id_loss import face_input, id_loss
from .model import IDNetConfig, IRSE

__all__ = ["IDNet", "IDNetConfig", "IRSE", "face_input", "id_loss", "load_idnet"]
