import { describe, expect, it } from 'vitest';
import { en, translate, zh } from '../../src/lib/i18n';

describe('i18n dictionaries', () => {
  it('zh and en have exactly the same keys', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort());
  });

  it('no value is empty', () => {
    for (const [lang, dict] of Object.entries({ zh, en })) {
      for (const [k, v] of Object.entries(dict)) {
        expect(v.trim(), `${lang}:${k}`).not.toBe('');
      }
    }
  });

  it('both languages use the same placeholders for each key', () => {
    const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const k of Object.keys(zh) as (keyof typeof zh)[]) {
      expect(ph(en[k]), k).toEqual(ph(zh[k]));
    }
  });

  it('fills placeholders', () => {
    expect(translate('zh', 'status.pending', { ops: 3, photos: 5 })).toBe('待上传 3 条 · 5 张照片');
    expect(translate('en', 'status.pending', { ops: 3, photos: 5 })).toBe('3 items · 5 photos to upload');
  });
});
