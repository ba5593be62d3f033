import { describe, expect, it } from 'vitest';
import { clampAspect, justify, rowAt } from './layout';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `j${i}`);

describe('justify', () => {
  it('fills full rows to the width and keeps each aspect ratio', () => {
    const aspects = [1, 1.5, 0.75, 1, 2, 1, 1];
    const { rows } = justify(ids(7), (i) => aspects[i], 1000, 200, 10, 40);
    for (const row of rows.slice(0, -1)) {
      const last = row.items[row.items.length - 1];
      expect(last.x + last.width).toBe(1000);
      const image = row.height - 40;
      for (const item of row.items.slice(0, -1)) {
        const i = Number(item.id.slice(1));
        expect(Math.abs(item.width - aspects[i] * image)).toBeLessThanOrEqual(1);
      }
    }
    expect(rows.flatMap((r) => r.items.map((x) => x.id))).toEqual(ids(7));
  });

  it('leaves the last row at the target height, not stretched', () => {
    const { rows } = justify(ids(5), () => 1, 1000, 200, 10, 0);
    // Four squares at 200 px do not fill 1000 px with gaps; five do.
    expect(rows.length).toBe(1);
    const short = justify(ids(2), () => 1, 1000, 200, 10, 0);
    expect(short.rows[0].height).toBe(200);
    expect(short.rows[0].items.map((x) => x.width)).toEqual([200, 200]);
  });

  it('stacks rows with the gap and reports the total height', () => {
    const { rows, height } = justify(ids(20), () => 1.5, 900, 180, 12, 50);
    for (let i = 1; i < rows.length; i += 1) expect(rows[i].top).toBe(rows[i - 1].top + rows[i - 1].height + 12);
    const last = rows[rows.length - 1];
    expect(height).toBe(last.top + last.height);
  });

  it('finds the row at a scroll position', () => {
    const { rows } = justify(ids(50), () => 1, 500, 100, 10, 0);
    expect(rowAt(rows, 0)).toBe(0);
    expect(rowAt(rows, rows[3].top + 1)).toBe(3);
    expect(rowAt(rows, 1e9)).toBe(rows.length);
  });

  it('clamps extreme aspect ratios', () => {
    expect(clampAspect(4000, 100)).toBe(2.5);
    expect(clampAspect(100, 4000)).toBe(0.5);
    expect(clampAspect(0, 0)).toBe(1);
  });
});
