// A reader of `text/event-stream` bodies for fetch(). EventSource would do it for us, but it
// cannot send an Authorization header, and ticket streams need one. Parsing follows the
// HTML standard's rules: lines end in CRLF, LF or CR; a blank line dispatches the event;
// lines starting with ":" are comments (keep-alives); "data" lines join with newlines.

/** Split text that arrives in arbitrary chunks into lines, whatever their line endings. */
export class LineSplitter {
  constructor() {
    this.buffer = "";
    this.pendingCR = false; // a chunk ended in CR: a following LF belongs to it
  }

  /** The complete lines in `chunk` (and what came before it). */
  push(chunk) {
    let text = chunk;
    if (this.pendingCR && text.startsWith("\n")) text = text.slice(1);
    this.pendingCR = false;
    const lines = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c !== "\n" && c !== "\r") continue;
      lines.push(this.buffer + text.slice(start, i));
      this.buffer = "";
      if (c === "\r") {
        if (i + 1 === text.length) this.pendingCR = true;
        else if (text[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    this.buffer += text.slice(start);
    return lines;
  }
}

/** Builds events from lines; `onEvent({event, data, id})` for each one dispatched. */
export class EventParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.lastEventId = "";
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
  }

  line(line) {
    if (line === "") {
      // An event without data lines is not dispatched (as EventSource does).
      if (this.data.length) {
        this.onEvent({ event: this.type || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    // "retry" and unknown fields: ignored; reconnecting is the caller's business.
  }
}

/**
 * Read the event stream of a fetch() Response until it ends, calling `onEvent` for each
 * event. Resolves when the server ends the stream; rejects if the connection breaks or
 * `signal` aborts.
 */
export async function readEvents(response, onEvent, signal) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  const splitter = new LineSplitter();
  const parser = new EventParser(onEvent);
  const abort = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", abort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (signal?.aborted) throw new DOMException("aborted", "AbortError");
      if (done) break;
      for (const line of splitter.push(decoder.decode(value, { stream: true }))) parser.line(line);
    }
    // A last event without its blank line is incomplete: the standard discards it.
    for (const line of splitter.push(decoder.decode())) parser.line(line);
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}
