import { describe, expect, it } from 'vitest';
import { Selection } from './selection.svelte';

describe('Selection', () => {
  const order = ['a', 'b', 'c', 'd', 'e'];

  it('toggles single ids', () => {
    const s = new Selection();
    s.toggle('b');
    s.toggle('d');
    s.toggle('b');
    expect([...s.ids]).toEqual(['d']);
  });

  it('extends a range from the anchor in either direction', () => {
    const s = new Selection();
    s.toggle('b');
    s.extendTo('d', order);
    expect([...s.ids].sort()).toEqual(['b', 'c', 'd']);
    const t = new Selection();
    t.toggle('e');
    t.extendTo('c', order);
    expect([...t.ids].sort()).toEqual(['c', 'd', 'e']);
  });

  it('treats a range without an anchor as a toggle', () => {
    const s = new Selection();
    s.extendTo('c', order);
    expect([...s.ids]).toEqual(['c']);
  });

  it('drops and clears', () => {
    const s = new Selection();
    s.toggle('a');
    s.toggle('b');
    s.drop(['a', 'zzz']);
    expect([...s.ids]).toEqual(['b']);
    s.clear();
    expect(s.size).toBe(0);
    expect(s.anchor).toBeNull();
  });
});
