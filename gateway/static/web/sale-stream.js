// A sale's live stock and state (GET /api/v1/sales/{id}/events). The sale stream needs no
// token, so the browser's EventSource reads it. EventSource retries by itself only after a
// dropped connection, every few seconds, and gives up for good on an error answer (a 503
// from a gateway that is shutting down, say); so on any error we close it and reconnect
// ourselves, waiting longer after each failure (with jitter, so that a crowd of pages does
// not reconnect in step after a gateway restart). Each new connection starts with a fresh
// snapshot, so nothing is lost in between.

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

export class SaleStream {
  /** Follows `saleId`, calling `onSale(sale)` per event and `onStatus("live" | "retrying")`. */
  constructor(saleId, { onSale, onStatus = () => {} }) {
    this.saleId = saleId;
    this.onSale = onSale;
    this.onStatus = onStatus;
    this.source = null;
    this.timer = 0;
    this.delay = FIRST_DELAY_MS;
    this.stopped = false;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const source = new EventSource(`/api/v1/sales/${encodeURIComponent(this.saleId)}/events`);
    this.source = source;
    source.addEventListener("sale", (event) => {
      this.delay = FIRST_DELAY_MS; // healthy again: the next failure retries quickly
      let sale;
      try {
        sale = JSON.parse(event.data);
      } catch {
        return; // not a sale: ignore it rather than break the page
      }
      this.onStatus("live");
      this.onSale(sale);
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      source.close();
      this.source = null;
      this.onStatus("retrying");
      const wait = this.delay * (0.75 + Math.random() / 2);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
      this.timer = window.setTimeout(() => this.connect(), wait);
    });
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
