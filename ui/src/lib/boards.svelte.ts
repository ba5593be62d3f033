// The boards in the side list, kept current as the user changes them.
import {
  addToBoard,
  createBoard,
  deleteBoard,
  errorMessage,
  listBoards,
  removeFromBoard,
  renameBoard,
  type Board,
  type ImageRef,
  type ListQuery,
} from './api';
import { notices } from './notices.svelte';

export { IMAGES_TYPE } from './drag';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export class Boards {
  list = $state.raw<Board[]>([]);
  error = $state<string | null>(null);

  get plain(): Board[] {
    return this.list.filter((b) => b.filter === null);
  }

  byId(id: number | undefined): Board | undefined {
    return this.list.find((b) => b.id === id);
  }

  async load(): Promise<void> {
    try {
      this.list = await listBoards();
      this.error = null;
    } catch (err) {
      this.error = `Could not load the boards: ${errorMessage(err)}`;
    }
  }

  #put(board: Board): void {
    const others = this.list.filter((b) => b.id !== board.id);
    this.list = [...others, board].sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }));
  }

  async create(name: string, filter: ListQuery | null = null): Promise<Board | null> {
    try {
      const board = await createBoard(name, filter);
      this.#put(board);
      notices.push(filter ? `Saved the filters as the smart board “${board.name}”` : `Created the board “${board.name}”`);
      return board;
    } catch (err) {
      notices.error(`Could not create the board: ${errorMessage(err)}`);
      return null;
    }
  }

  async rename(id: number, name: string): Promise<boolean> {
    try {
      this.#put(await renameBoard(id, name));
      return true;
    } catch (err) {
      notices.error(`Could not rename the board: ${errorMessage(err)}`);
      return false;
    }
  }

  async remove(id: number): Promise<boolean> {
    const name = this.byId(id)?.name ?? 'the board';
    try {
      await deleteBoard(id);
      this.list = this.list.filter((b) => b.id !== id);
      notices.push(`Deleted the board “${name}” (its images stay in the library)`);
      return true;
    } catch (err) {
      notices.error(`Could not delete the board: ${errorMessage(err)}`);
      return false;
    }
  }

  async add(id: number, images: ImageRef[]): Promise<void> {
    try {
      const board = await addToBoard(id, images);
      this.#put(board);
      const what = images.length === 1 && images[0].output_index !== undefined ? 'the image' : plural(images.length, 'job');
      notices.push(`Added ${what} to “${board.name}”`);
    } catch (err) {
      notices.error(`Could not add to the board: ${errorMessage(err)}`);
    }
  }

  async take(id: number, images: ImageRef[]): Promise<boolean> {
    try {
      const board = await removeFromBoard(id, images);
      this.#put(board);
      notices.push(`Removed from “${board.name}”`);
      return true;
    } catch (err) {
      notices.error(`Could not remove from the board: ${errorMessage(err)}`);
      return false;
    }
  }
}
