// The gallery's thumbnail size (its row height), set by the slider in the
// top bar and remembered across starts.
import { setThumbSize, thumbSize, THUMB_SIZES } from './prefs';

class GallerySize {
  rowHeight = $state(thumbSize());
  readonly min = THUMB_SIZES.min;
  readonly max = THUMB_SIZES.max;

  set(size: number): void {
    this.rowHeight = Math.min(this.max, Math.max(this.min, Math.round(size)));
    setThumbSize(this.rowHeight);
  }
}

export const gallerySize = new GallerySize();
