// The offline map: demo sub-district polygons (assets/boundaries.json, WGS-84 [lon, lat]) projected
// to SVG coordinates. Equirectangular with cos(latitude) scaling, which is accurate to well under a
// pixel over a city. No tiles: nothing is fetched, and no GCJ-02 offset can creep in.
import boundaries from '../../../assets/boundaries.json';

export interface SubDistrict {
  id: string;
  code: string;
  zh: string;
  en: string;
  district: { code: string; zh: string; en: string };
  polygon: [number, number][];
}

interface BoundariesFile {
  districts: {
    id: string;
    code: string;
    zh: string;
    en: string;
    sub_districts: { id: string; code: string; zh: string; en: string; polygon: number[][] }[];
  }[];
}

export const SUB_DISTRICTS: SubDistrict[] = (boundaries as BoundariesFile).districts.flatMap((d) =>
  d.sub_districts.map((s) => ({
    id: s.id,
    code: s.code,
    zh: s.zh,
    en: s.en,
    district: { code: d.code, zh: d.zh, en: d.en },
    polygon: s.polygon.map((p) => [p[0], p[1]] as [number, number]),
  })),
);

export interface Projection {
  width: number;
  height: number;
  toXY(lon: number, lat: number): [number, number];
  toLonLat(x: number, y: number): [number, number];
  contains(lon: number, lat: number): boolean;
  /** SVG units per metre on the ground */
  unitsPerMetre: number;
}

/** A projection fitting all polygons into a box `width` wide (height follows), with a margin. */
export function makeProjection(subs: SubDistrict[], width = 1000, marginFrac = 0.04): Projection {
  let minLon = Infinity, maxLon = -Infinity, minLat = Infinity, maxLat = -Infinity;
  for (const s of subs)
    for (const [lon, lat] of s.polygon) {
      minLon = Math.min(minLon, lon);
      maxLon = Math.max(maxLon, lon);
      minLat = Math.min(minLat, lat);
      maxLat = Math.max(maxLat, lat);
    }
  const padLon = (maxLon - minLon) * marginFrac;
  const padLat = (maxLat - minLat) * marginFrac;
  minLon -= padLon;
  maxLon += padLon;
  minLat -= padLat;
  maxLat += padLat;
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const scale = width / ((maxLon - minLon) * k);
  const height = Math.round((maxLat - minLat) * scale);
  return {
    width,
    height,
    toXY: (lon, lat) => [(lon - minLon) * k * scale, (maxLat - lat) * scale],
    toLonLat: (x, y) => [minLon + x / (k * scale), maxLat - y / scale],
    contains: (lon, lat) => lon >= minLon && lon <= maxLon && lat >= minLat && lat <= maxLat,
    unitsPerMetre: scale / 111_320,
  };
}

export function pointInPolygon(lon: number, lat: number, poly: [number, number][]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function subDistrictAt(lon: number, lat: number): SubDistrict | null {
  return SUB_DISTRICTS.find((s) => pointInPolygon(lon, lat, s.polygon)) ?? null;
}

export function centroid(poly: [number, number][]): [number, number] {
  const pts = poly.length > 1 && poly[0][0] === poly.at(-1)![0] && poly[0][1] === poly.at(-1)![1] ? poly.slice(0, -1) : poly;
  const lon = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const lat = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  return [lon, lat];
}
