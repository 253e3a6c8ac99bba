-- One page of a pull (store/postgres/pull.rs), `{scope}` replaced by the principal's scope condition
-- (parameters $3 on). The sync bench's growth step EXPLAINs this same file.
SELECT f.id, f.author_id, f.team_id, f.district_id, f.sub_district_id, f.status, f.fields_json, f.version,
       f.server_seq, f.received_at, f.updated_at,
       (SELECT u.display_name FROM users u WHERE u.id = f.author_id),
       (SELECT t.name FROM teams t WHERE t.id = f.team_id),
       ARRAY(SELECT h.entry_json FROM finding_history h WHERE h.finding_id = f.id ORDER BY h.n)
FROM findings f
WHERE f.server_seq > $1 AND {scope}
ORDER BY f.server_seq
LIMIT $2
