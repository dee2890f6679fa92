// A purchase's proof of work, for a sale with a `pow_difficulty`: a fresh challenge from the
// gateway (single-use, it expires), solved in a worker (pow-worker.js) so the page stays
// responsive, with how far the search has come for a progress hint.

import { getChallenge } from "./api.js";

/**
 * Fetch a challenge for `saleId` and solve it; resolves to the X-PoW-Solution value.
 * `onProgress(percent)`: hashes tried against the 2^difficulty a solve takes on average
 * (capped at 99 until it is found: a search can take longer than the average).
 */
export async function proveWork(saleId, { onProgress = () => {}, signal } = {}) {
  const { challenge, difficulty } = await getChallenge(saleId, signal);
  return solveInWorker(challenge, difficulty, { onProgress, signal });
}

/** Solve `challenge` in a new worker, ended once it answers (or `signal` aborts). */
export function solveInWorker(challenge, difficulty, { onProgress = () => {}, signal } = {}) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./pow-worker.js", import.meta.url), { type: "module" });
    const expected = 2 ** difficulty;
    const stop = () => {
      worker.terminate();
      signal?.removeEventListener("abort", aborted);
    };
    const aborted = () => {
      stop();
      reject(new DOMException("aborted", "AbortError"));
    };
    worker.addEventListener("message", (event) => {
      const { type, tried, solution } = event.data;
      if (type === "progress") {
        onProgress(Math.min(99, Math.floor((100 * tried) / expected)));
      } else if (type === "solved") {
        stop();
        onProgress(100);
        resolve(solution);
      }
    });
    worker.addEventListener("error", (event) => {
      stop();
      reject(new Error(`the proof-of-work worker failed: ${event.message || "no module worker"}`));
    });
    signal?.addEventListener("abort", aborted);
    worker.postMessage({ challenge, difficulty });
  });
}
