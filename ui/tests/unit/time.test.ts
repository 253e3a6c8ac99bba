import { describe, expect, it } from 'vitest';
import { localDay, relativeTime, rfc3339Local } from '../../src/lib/time';

// Built from local components, so the tests hold in any time zone.
const now = new Date(2026, 10, 22, 15, 0, 0); // 22 Nov 2026 15:00 local
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const MIN = 60_000;

describe('relativeTime', () => {
  it('just now', () => {
    expect(relativeTime(ago(10_000), now, 'zh')).toBe('刚刚');
    expect(relativeTime(ago(10_000), now, 'en')).toBe('just now');
    // a device clock a little ahead is not "in the future"
    expect(relativeTime(ago(-30_000), now, 'en')).toBe('just now');
  });
  it('minutes', () => {
    expect(relativeTime(ago(5 * MIN), now, 'zh')).toBe('5 分钟前');
    expect(relativeTime(ago(59 * MIN), now, 'en')).toBe('59 min ago');
  });
  it('hours today', () => {
    expect(relativeTime(ago(3 * 60 * MIN + 5 * MIN), now, 'zh')).toBe('3 小时前');
    expect(relativeTime(ago(60 * MIN), now, 'en')).toBe('1 h ago');
  });
  it('yesterday with the clock time', () => {
    const y = new Date(2026, 10, 21, 18, 2).toISOString();
    expect(relativeTime(y, now, 'zh')).toBe('昨天 18:02');
    expect(relativeTime(y, now, 'en')).toBe('yesterday 18:02');
  });
  it('days, then the date', () => {
    expect(relativeTime(new Date(2026, 10, 19, 23, 0).toISOString(), now, 'zh')).toBe('3 天前');
    expect(relativeTime(new Date(2026, 9, 1, 8, 0).toISOString(), now, 'en')).toBe('2026-10-01');
  });
  it('garbage in, nothing out', () => {
    expect(relativeTime('not a date', now, 'zh')).toBe('');
  });
});

describe('local dates', () => {
  it('localDay is the local calendar day', () => {
    expect(localDay(new Date(2026, 0, 5, 0, 30))).toBe('2026-01-05');
  });
  it('rfc3339Local carries the local offset and round-trips', () => {
    const d = new Date(2026, 10, 22, 9, 41, 5);
    const s = rfc3339Local(d);
    expect(s).toMatch(/^2026-11-22T09:41:05[+-]\d{2}:\d{2}$/);
    expect(new Date(s).getTime()).toBe(d.getTime());
  });
});
