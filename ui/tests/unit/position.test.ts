import { describe, expect, it } from 'vitest';
import { isImprecise, parseTyped, resolvePosition, type PositionInputs } from '../../src/lib/position';

const none: PositionInputs = { device: null, photos: [], map: null, typed: null, manual: null };
const exifPhoto = { gps: { lat: 30.27, lon: 120.17, altitude_m: 12 } };
const device = { lat: 30.2741, lon: 120.1551, accuracy_m: 8 };

describe('position fallback chain', () => {
  it('nothing known → null', () => {
    expect(resolvePosition(none)).toBeNull();
  });
  it('device GPS first, with its accuracy', () => {
    expect(resolvePosition({ ...none, device, photos: [exifPhoto] })).toEqual({ ...device, source: 'device_gps' });
  });
  it('else the first photo that has EXIF GPS', () => {
    const p = resolvePosition({ ...none, photos: [{ gps: null }, exifPhoto, { gps: { lat: 1, lon: 2, altitude_m: null } }] });
    expect(p).toEqual({ lat: 30.27, lon: 120.17, accuracy_m: null, source: 'photo_exif' });
  });
  it('a map pick, when the person made one, wins over GPS and EXIF', () => {
    const p = resolvePosition({ ...none, device, photos: [exifPhoto], map: { lat: 30.26, lon: 120.18 }, manual: 'map' });
    expect(p).toEqual({ lat: 30.26, lon: 120.18, accuracy_m: null, source: 'map' });
  });
  it('typed coordinates when typed last', () => {
    const p = resolvePosition({
      ...none,
      device,
      map: { lat: 30.26, lon: 120.18 },
      typed: { lat: ' 30.25 ', lon: '120,19' },
      manual: 'typed',
    });
    expect(p).toEqual({ lat: 30.25, lon: 120.19, accuracy_m: null, source: 'typed' });
  });
  it('half-typed coordinates fall back to the map pick, then to GPS', () => {
    const typed = { lat: '30.2', lon: '' };
    expect(resolvePosition({ ...none, device, map: { lat: 1, lon: 2 }, typed, manual: 'typed' })?.source).toBe('map');
    expect(resolvePosition({ ...none, device, typed, manual: 'typed' })?.source).toBe('device_gps');
  });
  it('out-of-range typed values pass through (the engine explains the range)', () => {
    expect(parseTyped({ lat: '95', lon: '120' })).toEqual({ lat: 95, lon: 120 });
    expect(parseTyped({ lat: 'abc', lon: '120' })).toBeNull();
  });
  it('warns above 30 m only', () => {
    expect(isImprecise({ accuracy_m: 30 })).toBe(false);
    expect(isImprecise({ accuracy_m: 31 })).toBe(true);
    expect(isImprecise({ accuracy_m: null })).toBe(false);
  });
});
