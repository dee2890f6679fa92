// The proof-of-work search, off the page's thread (a module worker started by pow.js): one
// message {challenge, difficulty} in; {type: "progress", tried} at most every 100 ms, and
// finally {type: "solved", solution, tried}. The page ends the worker once it has its answer.

import { solve } from "./pow-solve.js";

const PROGRESS_MS = 100;

self.addEventListener("message", (event) => {
  const { challenge, difficulty } = event.data;
  let last = performance.now();
  const onProgress = (tried) => {
    const now = performance.now();
    if (now - last < PROGRESS_MS) return;
    last = now;
    self.postMessage({ type: "progress", tried });
  };
  const { solution, tried } = solve(challenge, difficulty, { onProgress, every: 4096 });
  self.postMessage({ type: "solved", solution, tried });
});
