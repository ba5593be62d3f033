/**
 * One action at a time for a group of buttons: `active` disables them while
 * an action runs, whether it succeeds or fails.
 */
export class Busy {
  active = $state(false);

  async run(action: () => Promise<unknown>): Promise<void> {
    this.active = true;
    try {
      await action();
    } finally {
      this.active = false;
    }
  }
}
