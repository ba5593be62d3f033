/** The drag type that carries images within Easel (onto boards). */
export const IMAGES_TYPE = 'application/x-easel-images';

// Dragging an image out of Easel into another app: the drag carries the
// library file itself (its path as a file URI, which file managers, editors
// and chat apps accept as a dropped file), not a copy of the pixels.

/** A local path as a file URI (`file:///…`), each segment percent-encoded. */
export function fileUri(path: string): string {
  const forward = path.replace(/\\/g, '/');
  const rooted = forward.startsWith('/') ? forward : `/${forward}`;
  const encoded = rooted
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%3A/gi, ':'))
    .join('/');
  return `file://${encoded}`;
}

function fileName(path: string): string {
  return path.replace(/\\/g, '/').split('/').pop() ?? 'image.png';
}

/**
 * Fill a dragstart's data with the image file at `path` (served at `url`);
 * `images` says which images they are, for Easel's own drop targets (boards).
 */
export function dragImageOut(
  event: DragEvent,
  path: string,
  url: string,
  images: { job_id: string; output_index?: number }[] = [],
): void {
  const data = event.dataTransfer;
  if (!data) return;
  data.effectAllowed = 'copy';
  data.setData('text/uri-list', fileUri(path));
  data.setData('text/plain', path);
  // Chromium-based targets save the file itself from this.
  data.setData('DownloadURL', `image/png:${fileName(path)}:${url}`);
  if (images.length > 0) data.setData(IMAGES_TYPE, JSON.stringify(images));
}
