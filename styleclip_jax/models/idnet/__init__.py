"""ArcFace IR-SE50 identity network and StyleCLIP's ID loss."""

from styleclip_jax.models.idnet.handle import IDNet, load_idnet
from styleclip_jax.models.idnet.loss import face_input, id_loss
from styleclip_jax.models.idnet.network import IRSE, IDNetConfig

__all__ = ["IDNet", "IDNetConfig", "IRSE", "face_input", "id_loss", "load_idnet"]
