// Recently used sub-categories, newest first, kept in localStorage.
import type { KeyValueStore } from './draft';

export const RECENT_KEY = 'xuncha.recent-subcategories.v1';
const MAX = 6;

/** Entries are "category/subcategory". */
export function recentList(store: KeyValueStore): string[] {
  try {
    const v = JSON.parse(store.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, MAX) : [];
  } catch {
    return [];
  }
}

export function pushRecent(store: KeyValueStore, category: string, subcategory: string): string[] {
  const entry = `${category}/${subcategory}`;
  const next = [entry, ...recentList(store).filter((e) => e !== entry)].slice(0, MAX);
  try {
    store.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    /* ignore */
  }
  return next;
}

/** Sub-category codes of `items`, the recently used ones first (in recency order), the rest as given. */
export function recentFirst<T extends { code: string }>(category: string, items: T[], recent: string[]): T[] {
  const rank = new Map<string, number>();
  recent.forEach((e, i) => {
    const [c, s] = e.split('/');
    if (c === category && !rank.has(s)) rank.set(s, i);
  });
  return [...items].sort((a, b) => (rank.get(a.code) ?? 1e9) - (rank.get(b.code) ?? 1e9));
}
