"""Photos in and out: FFHQ alignment from MTCNN's 5 points, and pasting edited crops back."""

from styleclip_jax.faces.align import Alignment, align_face, ffhq_quad, paste_back
from styleclip_jax.faces.photos import align_photos, paste_back_photo

__all__ = ["Alignment", "align_face", "align_photos", "ffhq_quad", "paste_back", "paste_back_photo"]
