// Short-lived messages about what an action did ("Prompt copied", an error),
// some with one action (Undo).
export type NoticeAction = { label: string; run: () => void };
export type Notice = { id: number; kind: 'info' | 'error'; text: string; action?: NoticeAction };

class Notices {
  list = $state<Notice[]>([]);
  /**
   * Open modal dialogs, innermost last: toasts show inside the innermost
   * (a modal dialog makes the page behind it inert, so a toast there could
   * be seen but not clicked).
   */
  hosts = $state<number[]>([]);
  #next = 1;
  #nextHost = 1;

  openHost(): number {
    const id = this.#nextHost++;
    this.hosts = [...this.hosts, id];
    return id;
  }

  closeHost(id: number): void {
    this.hosts = this.hosts.filter((h) => h !== id);
  }

  /** Where toasts show: the innermost modal dialog, or the page (null). */
  get host(): number | null {
    return this.hosts.at(-1) ?? null;
  }

  push(text: string, kind: Notice['kind'] = 'info', ms = kind === 'error' ? 8000 : 3500, action?: NoticeAction): number {
    const id = this.#next++;
    this.list = [...this.list.slice(-3), { id, kind, text, action }];
    setTimeout(() => this.dismiss(id), ms);
    return id;
  }

  error(text: string): void {
    this.push(text, 'error');
  }

  /** A message with an action (Undo), shown long enough to reach it. */
  offer(text: string, action: NoticeAction): void {
    this.push(text, 'info', 10000, action);
  }

  dismiss(id: number): void {
    this.list = this.list.filter((n) => n.id !== id);
  }
}

export const notices = new Notices();
