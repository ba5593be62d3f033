// "Use settings": a job's settings handed to the generate panel, which
// loads them (prompt, model, size, seed, references, settings) for the
// user to change and generate again.
import type { JobSummary, ParamValue } from './api';

export type Draft = {
  prompt: string;
  negative_prompt: string | null;
  provider: string;
  model: string;
  width: number;
  height: number;
  count: number;
  /** Null: a random seed. */
  seed: number | null;
  reference_ids: string[];
  params: Record<string, ParamValue>;
};

/** A reference image attached in the generate panel. */
export type AttachedReference = { id: string; name: string; url: string; width: number; height: number };

class DraftBox {
  /** The latest draft to load, numbered so loading the same job twice counts. */
  current = $state.raw<{ draft: Draft; n: number } | null>(null);
  /** The latest image to attach as a reference ("Use as reference"), numbered likewise. */
  reference = $state.raw<{ ref: AttachedReference; n: number } | null>(null);
  #n = 0;

  addReference(ref: AttachedReference): void {
    this.#n += 1;
    this.reference = { ref, n: this.#n };
  }

  use(job: JobSummary): void {
    this.#n += 1;
    this.current = {
      n: this.#n,
      draft: {
        prompt: job.prompt,
        negative_prompt: job.negative_prompt,
        provider: job.provider,
        model: job.model,
        width: job.width,
        height: job.height,
        count: job.count,
        seed: job.seed,
        reference_ids: [...job.reference_ids],
        params: { ...(job.params as Record<string, ParamValue>) },
      },
    };
  }
}

export const draft = new DraftBox();
