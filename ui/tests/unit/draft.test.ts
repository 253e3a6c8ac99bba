import { describe, expect, it } from 'vitest';
import { DRAFT_KEY, clearDraft, emptyDraft, loadDraft, saveDraft, toFindingDraft, type KeyValueStore } from '../../src/lib/draft';
import { pushRecent, recentFirst, recentList } from '../../src/lib/recent';

function memStore(): KeyValueStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

const photo = { hash: 'a'.repeat(64), width: 10, height: 10, bytes: 100, gps: { lat: 30.27, lon: 120.17, altitude_m: null },
  taken_at: null, orientation: 1, make: null, model: null };

describe('draft persistence', () => {
  it('an untouched form is not stored', () => {
    const s = memStore();
    saveDraft(s, emptyDraft('u1'));
    expect(s.map.has(DRAFT_KEY)).toBe(false);
  });

  it('round-trips everything typed so far', () => {
    const s = memStore();
    const d = { ...emptyDraft('u1'), photos: [photo], category: 'fire_safety', subcategory: 'blocked_fire_lane',
      description: '楼道堆物', address: '湖滨路 1 号', severity: 'high' as const, typed: { lat: '30.2', lon: '' }, manual: 'typed' as const };
    saveDraft(s, d);
    expect(loadDraft(s, 'u1')).toEqual(d);
  });

  it('belongs to its user', () => {
    const s = memStore();
    saveDraft(s, { ...emptyDraft('u1'), description: 'x' });
    expect(loadDraft(s, 'u2')).toBeNull();
  });

  it('survives garbage', () => {
    const s = memStore();
    s.setItem(DRAFT_KEY, '{not json');
    expect(loadDraft(s, 'u1')).toBeNull();
    s.setItem(DRAFT_KEY, JSON.stringify({ owner: 'u1', description: 5, severity: 'extreme', photos: [{}, photo] }));
    const d = loadDraft(s, 'u1')!;
    expect(d.description).toBe('');
    expect(d.severity).toBe('normal');
    expect(d.photos).toEqual([photo]);
  });

  it('is cleared after save', () => {
    const s = memStore();
    saveDraft(s, { ...emptyDraft('u1'), description: 'x' });
    clearDraft(s);
    expect(loadDraft(s, 'u1')).toBeNull();
  });

  it('a storage that throws does not break the form', () => {
    const s: KeyValueStore = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('full');
      },
      removeItem: () => {},
    };
    expect(() => saveDraft(s, { ...emptyDraft('u1'), description: 'x' })).not.toThrow();
    expect(loadDraft(s, 'u1')).toBeNull();
  });

  it('becomes the FindingDraft that save_finding expects', () => {
    const d = { ...emptyDraft('u1', new Date(2026, 10, 22, 9, 0)), photos: [photo], category: 'fire_safety',
      subcategory: 'blocked_fire_lane', description: '  堵塞  ' };
    const f = toFindingDraft(d);
    expect(f).toMatchObject({ category: 'fire_safety', subcategory: 'blocked_fire_lane', description: '堵塞', address: '',
      severity: 'normal', photos: [photo.hash], position: { lat: 30.27, lon: 120.17, accuracy_m: null, source: 'photo_exif' } });
    expect(f.observed_at).toMatch(/^2026-11-22T09:00:00[+-]\d{2}:\d{2}$/);
  });
});

describe('recent sub-categories', () => {
  it('newest first, no duplicates, recent ones sorted first', () => {
    const s = memStore();
    pushRecent(s, 'fire_safety', 'flying_wires');
    pushRecent(s, 'road_order', 'illegal_parking');
    pushRecent(s, 'fire_safety', 'hydrant_damaged');
    pushRecent(s, 'fire_safety', 'flying_wires');
    expect(recentList(s)).toEqual(['fire_safety/flying_wires', 'fire_safety/hydrant_damaged', 'road_order/illegal_parking']);
    const items = [{ code: 'blocked_fire_lane' }, { code: 'hydrant_damaged' }, { code: 'flying_wires' }];
    expect(recentFirst('fire_safety', items, recentList(s)).map((i) => i.code)).toEqual([
      'flying_wires', 'hydrant_damaged', 'blocked_fire_lane',
    ]);
  });
});
