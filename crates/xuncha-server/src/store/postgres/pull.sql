-- Pull pages for a group of pulls in one statement (store/postgres/pull.rs). The sync bench's growth step
-- EXPLAINs this file. Each pull is numbered i (from 1) and sits in one of three lists, by the shape of its
-- scope: people ($1–$4: an inspector or leader, their own findings and their team's), a district ($5–$7)
-- or everything ($8–$9). Each condition is an equality on a column indexed together with server_seq,
-- read from the pull's cursor on and cut at $10 rows (the largest page asked for, and one more); $11[i] is
-- pull i's own page and one more.
WITH people AS (
    SELECT * FROM unnest($1::int4[], $2::uuid[], $3::uuid[], $4::int8[]) AS p(i, author, team, cursor)
), wanted AS (
    SELECT p.i, s.server_seq FROM people p CROSS JOIN LATERAL (
        SELECT f.server_seq FROM findings f
        WHERE f.author_id = p.author AND f.server_seq > p.cursor ORDER BY f.server_seq LIMIT $10) AS s
    UNION
    SELECT p.i, s.server_seq FROM people p CROSS JOIN LATERAL (
        SELECT f.server_seq FROM findings f
        WHERE f.team_id = p.team AND f.server_seq > p.cursor ORDER BY f.server_seq LIMIT $10) AS s
    UNION
    SELECT d.i, s.server_seq FROM unnest($5::int4[], $6::uuid[], $7::int8[]) AS d(i, district, cursor)
    CROSS JOIN LATERAL (
        SELECT f.server_seq FROM findings f
        WHERE f.district_id = d.district AND f.server_seq > d.cursor ORDER BY f.server_seq LIMIT $10) AS s
    UNION
    SELECT a.i, s.server_seq FROM unnest($8::int4[], $9::int8[]) AS a(i, cursor) CROSS JOIN LATERAL (
        SELECT f.server_seq FROM findings f
        WHERE f.server_seq > a.cursor ORDER BY f.server_seq LIMIT $10) AS s
), ranked AS (
    SELECT w.i, w.server_seq, row_number() OVER (PARTITION BY w.i ORDER BY w.server_seq) AS k FROM wanted w
)
SELECT r.i, f.id, f.author_id, f.team_id, f.district_id, f.sub_district_id, f.status, f.fields_json, f.version,
       f.server_seq, f.received_at, f.updated_at,
       (SELECT u.display_name FROM users u WHERE u.id = f.author_id),
       t.name,
       ARRAY(SELECT h.entry_json FROM finding_history h WHERE h.finding_id = f.id ORDER BY h.n)
FROM ranked r
-- One probe of the server_seq index per row of the pages. As a plain join, once the tables were analysed
-- the planner read the whole table for a few pages (a hash join over every finding, or a merge join
-- walking server_seq from the first): 3.5 times PostgreSQL's CPU in a burst of a thousand phones. The
-- LIMIT keeps this a lookup it cannot turn into a join.
CROSS JOIN LATERAL (SELECT * FROM findings f WHERE f.server_seq = r.server_seq LIMIT 1) AS f
-- Joined, not looked up per row: teams are few, and PostgreSQL reads so small a table whole for each
-- lookup rather than probe its index, 175 rows per row of a page.
JOIN teams t ON t.id = f.team_id
WHERE r.k <= ($11::int8[])[r.i]
ORDER BY r.i, r.server_seq
