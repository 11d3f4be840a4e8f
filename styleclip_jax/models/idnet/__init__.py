"""ArcFace IR-SE50 identity network and StyleCLIP's ID loss."""

from styleclip_jax.models.idnet.api import IDNet, load_idnet
from styleclip_jax.models.idnet.id_loss import face_input, id_loss
from styleclip_jax.models.idnet.model import IDNetConfig, IRSE

__all__ = ["IDNet", "IDNetConfig", "IRSE", "face_input", "id_loss", "load_idnet"]
