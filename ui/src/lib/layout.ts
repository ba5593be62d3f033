// The gallery's justified layout: rows of cards that keep each image's
// aspect ratio, every row filling the width (the last one at the target
// height), as photo galleries do. Pure, so it is tested on its own and the
// grid only renders the rows in view.

export type LaidItem = { id: string; x: number; width: number };
export type LaidRow = { top: number; height: number; items: LaidItem[]; first: number };
export type Layout = { rows: LaidRow[]; height: number };

/** Extreme panoramas and strips still get a usable card. */
export const MIN_ASPECT = 0.5;
export const MAX_ASPECT = 2.5;

export function clampAspect(width: number, height: number): number {
  const a = width > 0 && height > 0 ? width / height : 1;
  return Math.min(MAX_ASPECT, Math.max(MIN_ASPECT, a));
}

/**
 * Lay out `ids` (with `aspect(i)` for the i-th) in rows `width` wide, with
 * `gap` between cards and rows; a row's image height is near `target` (at
 * most 1.5× when a row has too few images to fill it). `extra` is the fixed
 * height under each image (the card's caption).
 */
export function justify(
  ids: readonly string[],
  aspect: (index: number) => number,
  width: number,
  target: number,
  gap: number,
  extra: number,
): Layout {
  const rows: LaidRow[] = [];
  if (width <= 0 || ids.length === 0) return { rows, height: 0 };
  let top = 0;
  let start = 0;
  let sum = 0;
  const close = (end: number, fill: boolean): void => {
    const n = end - start;
    const free = width - gap * (n - 1);
    const h = fill ? Math.min(target * 1.5, free / sum) : Math.min(target, free / sum);
    const items: LaidItem[] = [];
    let x = 0;
    for (let i = start; i < end; i += 1) {
      // The last card of a full row takes the rounding slack.
      const w = fill && i === end - 1 ? Math.max(1, width - x) : Math.round(aspect(i) * h);
      items.push({ id: ids[i], x, width: w });
      x += w + gap;
    }
    const height = Math.round(h) + extra;
    rows.push({ top, height, items, first: start });
    top += height + gap;
    start = end;
    sum = 0;
  };
  for (let i = 0; i < ids.length; i += 1) {
    sum += aspect(i);
    const n = i - start + 1;
    if (sum * target + gap * (n - 1) >= width) close(i + 1, true);
  }
  if (start < ids.length) close(ids.length, false);
  return { rows, height: Math.max(0, top - gap) };
}

/** Index of the first row whose bottom is below `y` (binary search). */
export function rowAt(rows: readonly LaidRow[], y: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid].top + rows[mid].height < y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
