// Following one ticket until nothing more will change on it. First its event stream
// (GET /api/v1/tickets/{id}/events), read with fetch() because it needs the bearer token;
// the server ends it once the ticket is settled (see `settled`). If the stream cannot be
// opened or breaks before, we poll GET /api/v1/tickets/{id} instead, which always works.

import { ApiError, errorFrom, getTicket, isSessionError, sleep } from "./api.js";
import { readEvents } from "./sse.js";
import * as session from "./session.js";

/**
 * Whether the server considers the ticket settled (and ends its stream): rejected, or
 * confirmed with its order paid or refunded (or with no order status: an order from before
 * payments). An order awaiting payment or expired can still change.
 */
export function settled(ticket) {
  if (ticket.status === "rejected") return true;
  return ticket.status === "confirmed" && [null, undefined, "paid", "refunded"].includes(ticket.order_status);
}

// Browsers open at most 6 HTTP/1.1 connections per origin, shared by every stream and
// request of the page. Sale streams take up to 3 (see sales-view.js); ticket streams take
// at most 2, so a request always finds a free connection. Past that, tickets are polled.
const MAX_TICKET_STREAMS = 2;
let openStreams = 0;

const POLL_FIRST_MS = 500;
const POLL_QUIET_MAX_MS = 2000;
const POLL_MAX_MS = 5000;

/**
 * Follow `ticketId`, calling `onTicket(ticket, via)` with each new state ("stream" or
 * "poll") and `onError(error)` when it cannot be followed at all (404, session ended),
 * until `done(ticket)` (by default: until it is settled). Returns a function that stops
 * following.
 */
export function followTicket(ticketId, { onTicket, onError, done = settled }) {
  const controller = new AbortController();
  const { signal } = controller;
  let last = null;
  const seen = (ticket, via) => {
    last = ticket;
    onTicket(ticket, via);
    // Settled for the caller, not for the server (an expired order): the stream is closed here.
    if (done(ticket) && !settled(ticket)) controller.abort();
  };

  (async () => {
    try {
      if (openStreams < MAX_TICKET_STREAMS) {
        openStreams++;
        try {
          await stream(ticketId, (ticket) => seen(ticket, "stream"), signal);
        } catch (error) {
          if (signal.aborted || isFatal(error)) throw error;
          // Anything else (a broken connection, a 503): fall back to polling below.
        } finally {
          openStreams--;
        }
      }
      if (!last || !done(last)) await poll(ticketId, last, seen, signal, done);
    } catch (error) {
      if (!signal.aborted) onError(error);
    }
  })();

  return () => controller.abort();
}

function isFatal(error) {
  return error instanceof ApiError && (error.status === 401 || error.status === 404);
}

async function stream(ticketId, onTicket, signal) {
  const token = session.token();
  if (!token) throw new ApiError(401, "missing_token", "not logged in");
  const response = await fetch(`/api/v1/tickets/${encodeURIComponent(ticketId)}/events`, {
    headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` },
    cache: "no-store",
    signal,
  });
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401) session.end("expired");
    throw error;
  }
  let final = false;
  await readEvents(
    response,
    (event) => {
      if (event.event !== "ticket") return;
      const ticket = JSON.parse(event.data);
      final = settled(ticket);
      onTicket(ticket);
    },
    signal,
  );
  if (!final) throw new Error("the ticket stream ended before the ticket was settled");
}

async function poll(ticketId, last, seen, signal, done) {
  let delay = POLL_FIRST_MS;
  let previous = last ? JSON.stringify(last) : "";
  for (;;) {
    try {
      const ticket = await getTicket(ticketId, signal);
      const text = JSON.stringify(ticket);
      const changed = text !== previous;
      if (changed) seen(ticket, "poll");
      previous = text;
      if (done(ticket)) return;
      // A line moves fast: soon again. A waitlist, a waiting room (until its draw) or an
      // order awaiting payment may not change for minutes: less often while they do not.
      const quiet = !changed && ["waitlisted", "confirmed", "waiting_room"].includes(ticket.status);
      delay = quiet ? Math.min(delay * 1.5, POLL_QUIET_MAX_MS) : POLL_FIRST_MS;
    } catch (error) {
      if (signal.aborted || isFatal(error) || isSessionError(error)) throw error;
      // A 503 or a lost connection: wait (as long as the server asks), then poll again.
      delay = Math.min(Math.max(delay * 2, (error.retryAfter || 0) * 1000), POLL_MAX_MS);
    }
    await sleep(delay);
    if (signal.aborted) throw new DOMException("aborted", "AbortError");
  }
}
