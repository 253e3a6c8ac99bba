// Dates and times in the device's local zone, formatted for the chosen language.
import { translate, type Lang } from './i18n';

const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, '0');

/** "YYYY-MM-DD" in the device's local zone (the `day` that list_findings expects). */
export function localDay(d: Date = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** RFC 3339 with the device's local offset, e.g. 2026-11-22T09:41:05+08:00. */
export function rfc3339Local(d: Date = new Date()): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return (
    `${localDay(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

/** "HH:mm" local. */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "2026-11-22 09:41" local. */
export function dateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${localDay(d)} ${clock(iso)}`;
}

/**
 * "刚刚", "5 分钟前", "3 小时前", "昨天 18:02", "4 天前", then the date.
 * Pure: the caller passes `now`. Times slightly in the future (clock skew) read as "just now".
 */
export function relativeTime(iso: string, now: Date, lang: Lang): string {
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return '';
  const secs = (now.getTime() - then.getTime()) / 1000;
  if (secs < -120) return translate(lang, 'time.in_future', { time: dateTime(iso) });
  if (secs < 60) return translate(lang, 'time.just_now');
  const mins = Math.floor(secs / 60);
  if (mins < 60) return translate(lang, 'time.minutes_ago', { n: mins });
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const startOfYesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1).getTime();
  if (then.getTime() >= startOfToday) return translate(lang, 'time.hours_ago', { n: Math.floor(mins / 60) });
  if (then.getTime() >= startOfYesterday) return translate(lang, 'time.yesterday', { time: clock(iso) });
  const days = Math.round((startOfToday - new Date(then.getFullYear(), then.getMonth(), then.getDate()).getTime()) / 86_400_000);
  if (days < 7) return translate(lang, 'time.days_ago', { n: days });
  return localDay(then);
}
