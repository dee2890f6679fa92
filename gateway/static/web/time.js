// Dates and durations as people read them, in the active language and locale (i18n.js), and
// the RFC 3339 times the API wants.

import { locale, t } from "./i18n.js";

const pad = (n, width = 2) => String(Math.trunc(Math.abs(n))).padStart(width, "0");

/** "2 h 05 min", "4 min 30 s", "12 s": a duration in whole seconds, coarsest units first. */
export function duration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = s % 60;
  if (days > 0) return t("duration.days", { days, hours });
  if (hours > 0) return t("duration.hours", { hours, minutes: pad(minutes) });
  if (minutes > 0) return t("duration.minutes", { minutes, seconds: pad(secs) });
  return t("duration.seconds", { seconds: secs });
}

/** "in 4 min 30 s" for a Retry-After header value in seconds (at least one second). */
export function retryIn(seconds) {
  const s = Number.isFinite(seconds) && seconds > 0 ? seconds : 1;
  return s === 1 ? t("duration.in_a_second") : t("duration.in", { duration: duration(s) });
}

const DATE_TIME = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
const TIME = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
const formats = new Map(); // locale -> {dateTime, time}

// One pair of formatters per locale, made when first needed: the locale changes with a switch.
function formatsOf(tag) {
  if (!formats.has(tag)) {
    formats.set(tag, { dateTime: new Intl.DateTimeFormat(tag, DATE_TIME), time: new Intl.DateTimeFormat(tag, TIME) });
  }
  return formats.get(tag);
}

/** A moment in the reader's time zone and locale, e.g. "Fri 27 Nov, 09:00". */
export function localDateTime(value) {
  return formatsOf(locale()).dateTime.format(new Date(value));
}

/** The time of day with seconds, e.g. "09:00:05". */
export function localTime(value) {
  return formatsOf(locale()).time.format(new Date(value));
}

/**
 * The RFC 3339 form, with the browser's UTC offset for that moment (so daylight saving
 * time is right for the date, not for today), of a `datetime-local` input's value such as
 * "2026-11-27T09:00". Null if the value is not one.
 */
export function localInputToRfc3339(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map((part) => Number(part || 0));
  const date = new Date(year, month - 1, day, hour, minute, second);
  if (Number.isNaN(date.getTime())) return null;
  const offset = -date.getTimezoneOffset(); // minutes east of UTC
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}

/** The value a `datetime-local` input shows for a Date, to the minute. */
export function toLocalInput(date) {
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** "UTC+01:00": the browser's offset now, to tell admins what their inputs mean. */
export function utcOffsetLabel(date = new Date()) {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `UTC${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}
