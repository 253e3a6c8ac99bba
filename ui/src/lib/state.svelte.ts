// App-wide reactive state: language, session, sync status, taxonomy, and which screen is shown.
import bundledTaxonomy from '../../../assets/taxonomy.json';
import { hasKey, parseLang, translate, type Key, type Lang } from './i18n';
import type { Category, Session, Subcategory, SyncStatus, Taxonomy, UserMessage } from './types';

const LANG_KEY = 'xuncha.lang';

function storedLang(): Lang {
  try {
    return parseLang(localStorage.getItem(LANG_KEY));
  } catch {
    return 'zh';
  }
}

export type Screen =
  | { name: 'today' }
  | { name: 'team' }
  | { name: 'capture' }
  | { name: 'detail'; id: string; from: 'today' | 'team' };

export const app = $state({
  lang: storedLang(),
  session: null as Session | null,
  sync: null as SyncStatus | null,
  taxonomy: bundledTaxonomy as Taxonomy,
  screen: { name: 'today' } as Screen,
  /** bumped whenever findings may have changed (save, submit, sync), so lists reload */
  dataVersion: 0,
  /** a short confirmation shown at the top, cleared after a few seconds */
  notice: null as Key | null,
  /** "now", ticking once a minute, for relative times */
  now: new Date(),
});

export function setLang(l: Lang) {
  app.lang = l;
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    /* ignore */
  }
}

/** Translate in the current language (reactive in templates: it reads app.lang). */
export function t(key: Key, params?: Record<string, string | number>): string {
  return translate(app.lang, key, params);
}

/** A UserMessage in the current language. */
export function msg(m: UserMessage | null | undefined): string {
  if (!m) return '';
  return app.lang === 'zh' ? m.zh : m.en;
}

/** A bilingual name {zh, en} in the current language. */
export function label(x: { zh: string; en: string } | null | undefined): string {
  if (!x) return '';
  return app.lang === 'zh' ? x.zh : x.en;
}

/** Translate a key built from a server code, or null when the dictionary does not know it. */
export function tMaybe(key: string): string | null {
  return hasKey(key) ? t(key) : null;
}

export function historyKind(kind: string): string {
  return tMaybe(`history.${kind}`) ?? statusName(kind);
}

export function statusName(code: string): string {
  const k = `status_name.${code}`;
  return hasKey(k) ? t(k) : code;
}

export function findCategory(code: string): Category | undefined {
  return app.taxonomy.categories.find((c) => c.code === code);
}

export function findSubcategory(cat: string, sub: string): Subcategory | undefined {
  return findCategory(cat)?.subcategories.find((s) => s.code === sub);
}

/** "消防安全 · 消防通道堵塞" */
export function categoryLabel(cat: string, sub: string): string {
  const c = findCategory(cat);
  const s = findSubcategory(cat, sub);
  return [c ? label(c) : cat, s ? label(s) : sub].filter(Boolean).join(' · ');
}

export function go(screen: Screen) {
  app.screen = screen;
  window.scrollTo?.(0, 0);
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
export function notify(key: Key) {
  app.notice = key;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (app.notice = null), 4000);
}
