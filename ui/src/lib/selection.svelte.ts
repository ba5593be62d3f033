// Which gallery cards are selected for a bulk action.
import { SvelteSet } from 'svelte/reactivity';

export class Selection {
  readonly ids = new SvelteSet<string>();
  /** Where a Shift-click range starts. */
  anchor: string | null = null;

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  toggle(id: string): void {
    if (this.ids.has(id)) this.ids.delete(id);
    else this.ids.add(id);
    this.anchor = id;
  }

  /** Add every id between the anchor and `id` (in `order`) to the selection. */
  extendTo(id: string, order: readonly string[]): void {
    const from = this.anchor === null ? -1 : order.indexOf(this.anchor);
    const to = order.indexOf(id);
    if (from < 0 || to < 0) {
      this.toggle(id);
      return;
    }
    const [lo, hi] = from < to ? [from, to] : [to, from];
    for (let i = lo; i <= hi; i += 1) this.ids.add(order[i]);
  }

  /** Forget ids that no longer exist. */
  drop(ids: Iterable<string>): void {
    for (const id of ids) this.ids.delete(id);
  }

  clear(): void {
    this.ids.clear();
    this.anchor = null;
  }
}
