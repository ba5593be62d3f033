// Short-lived messages about what an action did ("Prompt copied", an error).
export type Notice = { id: number; kind: 'info' | 'error'; text: string };

class Notices {
  list = $state<Notice[]>([]);
  #next = 1;

  push(text: string, kind: Notice['kind'] = 'info', ms = kind === 'error' ? 8000 : 3500): void {
    const id = this.#next++;
    this.list = [...this.list.slice(-3), { id, kind, text }];
    setTimeout(() => this.dismiss(id), ms);
  }

  error(text: string): void {
    this.push(text, 'error');
  }

  dismiss(id: number): void {
    this.list = this.list.filter((n) => n.id !== id);
  }
}

export const notices = new Notices();
